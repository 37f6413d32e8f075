"""The tool-call API: the assistant's tools for other agents, as OpenAI function tools.

`GET /v1/tools` lists them (strict OpenAI function-tool schemas); `POST /v1/tools/{name}`
runs one with JSON arguments and returns its typed result. Cart tools act on the session
named by the `X-Session-Id` header, one issued by `POST /v1/sessions` (a new, unsaved session
without the header; an id the server never issued 404 `session_unknown`, another key's 403
`session_forbidden`, an expired one 410 `session_expired`). The calling agent confirms with
its shopper before `add_to_cart`, as the chat agent does. A failed call is HTTP 422 with the
`ToolError` body; an unknown tool 404.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from assistant.server.ops import operations
from assistant.server.request_ids import bind_session
from assistant.server.services import Services
from assistant.server.session_access import SessionRefusal, gate, owner_of
from assistant.sessions import SessionState
from tools.context import ToolContext
from tools.registry import TOOLS, ToolError, call_tool, openai_tools

router = APIRouter(prefix="/v1/tools", tags=["tools"])


@router.get("", summary="List the tools as OpenAI function-tool schemas (strict mode)")
async def list_tools() -> list[dict[str, Any]]:
    return openai_tools()


@router.post("/{name}", summary="Run one tool with JSON arguments", responses={403: {}, 404: {}, 410: {}, 422: {}})
async def run_tool(
    name: str,
    request: Request,
    arguments: Annotated[dict[str, Any], Body(default_factory=dict)],
    x_session_id: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    services: Services = request.app.state.services
    if name not in TOOLS:
        raise HTTPException(404, f"unknown tool {name!r}; tools: {sorted(TOOLS)}")
    if x_session_id:
        bind_session(x_session_id)

    sessions, owner = gate(services, operations(request).settings), owner_of(request.scope)

    def run() -> Any:
        if not x_session_id:
            return call_tool(ToolContext(services.retriever, SessionState(), services.policies), name, arguments)
        return sessions.call(services, x_session_id, owner, name, arguments)

    result = await asyncio.get_running_loop().run_in_executor(services.pool, run)
    if isinstance(result, SessionRefusal):
        return JSONResponse({"detail": result.text, "code": result.code}, status_code=result.status)
    if isinstance(result, ToolError):
        return JSONResponse(result.model_dump(mode="json"), status_code=422)
    return result.model_dump(mode="json")
