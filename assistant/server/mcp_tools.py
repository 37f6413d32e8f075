"""The tools over MCP (the official `mcp` SDK): streamable HTTP at `/mcp`, and stdio.

The same registry as the HTTP tool API: each tool's input schema is its pydantic argument
model's JSON Schema, its output schema the result model's; a `ToolError` comes back as an
MCP error result (`isError`) carrying the error JSON. Cart tools act on a fresh session
(MCP clients that keep a cart use the WebSocket protocol or `X-Session-Id` over HTTP).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server

from assistant.events import PROTOCOL_VERSION
from assistant.server.services import Services
from assistant.sessions import SessionState
from tools.context import ToolContext
from tools.registry import TOOLS, ToolError, call_tool


def build_mcp_server(services: Callable[[], Services]) -> Server[Any]:
    """An MCP server whose tools run against `services()` (resolved per call, after startup)."""

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t.name,
                    description=t.description,
                    input_schema=t.args.model_json_schema(),
                    output_schema=t.result.model_json_schema(),
                )
                for t in TOOLS.values()
            ]
        )

    async def run_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        s = services()

        def call() -> Any:
            return call_tool(ToolContext(s.retriever, SessionState(), s.policies), params.name, dict(params.arguments or {}))

        result = await anyio.to_thread.run_sync(call)
        data = result.model_dump(mode="json")
        text = [types.TextContent(type="text", text=json.dumps(data))]
        if isinstance(result, ToolError):
            return types.CallToolResult(content=text, is_error=True)
        return types.CallToolResult(content=text, structured_content=data)

    return Server("shop-assistant", version=PROTOCOL_VERSION, on_list_tools=list_tools, on_call_tool=run_tool)


async def serve_stdio(services: Services) -> None:
    """`shop-assistant mcp`: the tools over stdin/stdout for a local MCP client."""
    from mcp.server.stdio import stdio_server

    server = build_mcp_server(lambda: services)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
