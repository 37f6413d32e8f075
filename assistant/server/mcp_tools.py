"""The tools over MCP (the official `mcp` SDK): streamable HTTP at `/mcp`, and stdio.

The same registry as the HTTP tool API: each tool's input schema is its pydantic argument
model's JSON Schema, its output schema the result model's; a `ToolError` comes back as an
MCP error result (`isError`) carrying the error JSON.

The cart tools (`add_to_cart`, `remove_from_cart`, `view_cart`) take a `session_id` beside
their own arguments: one from the `open_session` tool (or `POST /v1/sessions`, or a chat
socket's `session.created`), so a cart persists across calls and interfaces exactly as over
`/v1/tools`, bound to the API key that opened it (see `session_access`). MCP's own transport
session is not used for this: stdio has none, and the stateless HTTP transport keeps none.
The calling agent confirms with its shopper before `add_to_cart`, as the chat agent does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from pydantic import BaseModel

from assistant.events import PROTOCOL_VERSION
from assistant.server.services import Services
from assistant.server.session_access import NewSession, SessionRefusal, gate, owner_of
from assistant.server.settings import ServerSettings
from assistant.sessions import SessionState
from tools.context import ToolContext
from tools.registry import TOOLS, ToolError, call_tool

SESSION_TOOLS = frozenset({"add_to_cart", "remove_from_cart", "view_cart"})
OPEN_SESSION = "open_session"
SESSION_ID = {"type": "string", "description": "The shopper's session (from open_session), whose cart this acts on"}


def _input_schema(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    if name not in SESSION_TOOLS:
        return schema
    return {**schema, "properties": {**schema.get("properties", {}), "session_id": SESSION_ID},
            "required": [*schema.get("required", []), "session_id"]}  # fmt: skip


def build_mcp_server(services: Callable[[], Services], settings: ServerSettings | None = None) -> Server[Any]:
    """An MCP server whose tools run against `services()` (resolved per call, after startup)."""
    settings = settings or ServerSettings()

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        tools = [
            types.Tool(
                name=t.name,
                description=t.description,
                input_schema=_input_schema(t.name, t.args.model_json_schema()),
                output_schema=t.result.model_json_schema(),
            )
            for t in TOOLS.values()
        ]
        opener = "Start a shopper session; pass its session_id to the cart tools (add_to_cart, remove_from_cart, view_cart)."
        tools.append(types.Tool(name=OPEN_SESSION, description=opener, input_schema={"type": "object", "properties": {}},
                                output_schema=NewSession.model_json_schema()))  # fmt: skip
        return types.ListToolsResult(tools=tools)

    async def run_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        s = services()
        sessions = gate(s, settings)
        request = getattr(ctx, "request", None)
        owner = owner_of(getattr(request, "scope", None))  # stdio: a local client, no key
        arguments = dict(params.arguments or {})

        def call() -> BaseModel | SessionRefusal:
            if params.name == OPEN_SESSION:
                return NewSession(session_id=sessions.issue(owner).session_id, idle_expiry_s=sessions.idle_s)
            if params.name not in SESSION_TOOLS:
                return call_tool(ToolContext(s.retriever, SessionState(), s.policies), params.name, arguments)
            sid = arguments.pop("session_id", None)
            if not isinstance(sid, str) or not sid:
                return SessionRefusal("session_required", 400, 0, f"{params.name} needs a session_id (call {OPEN_SESSION} first)")
            return sessions.call(s, sid, owner, params.name, arguments)

        result = await anyio.to_thread.run_sync(call)
        if isinstance(result, SessionRefusal):
            refusal = {"error": result.text, "code": result.code}
            return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(refusal))], is_error=True)
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
