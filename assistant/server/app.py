"""The FastAPI application: lifespan (models and index loaded once), routes, health.

GET  /healthz                 the process is up
GET  /readyz                  models loaded and the index answering (503 otherwise)
GET  /v1/protocol             protocol version and JSON Schemas of every event
WS   /v1/chat                 the streaming chat protocol (docs/protocol.md)
POST /v1/chat/stream          the same events as SSE, AI SDK UI message stream format
GET  /v1/tools, POST /v1/tools/{name}   the tool-call API
POST /v1/sessions             a new session (cart, conversation) for the tool API and MCP
/mcp                          the same tools over MCP (streamable HTTP)
GET  /, /widget.js, /widget.css   the chat widget (page and one-script-tag embed)
GET  /v1/images/{product_id}  a product's photo
GET  /metrics                 Prometheus metrics (operations: `ops`, `access`, `metrics`)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from assistant.config import Settings
from assistant.errors import SessionStoreUnavailable
from assistant.events import PROTOCOL_VERSION, event_schema
from assistant.server import chat_ws, session_access, sse, tools_api, widget
from assistant.server.mcp_tools import build_mcp_server
from assistant.server.ops import add_operations, operations
from assistant.server.protocol import CLIENT_EVENT, SERVER_EVENT
from assistant.server.services import Services, load_services
from assistant.server.session_access import gate
from assistant.server.settings import ServerSettings


def create_app(settings: Settings | None = None, services: Callable[[], Services] | None = None, server: ServerSettings | None = None) -> FastAPI:
    """The app; `services` builds what it serves (default: from `settings`) when it starts;
    `server` says how it is exposed (keys, limits, CORS; default: loopback, no keys)."""

    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager

    server = server or ServerSettings()
    mcp_sessions = StreamableHTTPSessionManager(app=build_mcp_server(lambda: app.state.services, server), stateless=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services() if services else load_services(settings or Settings.from_env())
        gate(app.state.services, server).purge()  # the retention rule: no expired session outlives a restart
        await app.state.ops.start()  # limits shared with other replicas, when configured
        try:
            async with mcp_sessions.run():
                yield
        finally:
            app.state.services.close()  # in-flight turns finish and save before the store closes
            await app.state.ops.close()

    app = FastAPI(title="shop-assistant", version=PROTOCOL_VERSION, lifespan=lifespan)
    add_operations(app, server)  # request ids, metrics, CORS, keys and limits around every route; /metrics
    app.add_route("/mcp", StreamableHTTPASGIApp(mcp_sessions), methods=["GET", "POST", "DELETE"], include_in_schema=False)
    app.include_router(chat_ws.router)
    app.include_router(sse.router)
    app.include_router(tools_api.router)
    app.include_router(session_access.router)
    app.include_router(widget.router)  # the chat page, widget assets, product photos

    @app.exception_handler(SessionStoreUnavailable)
    async def sessions_unavailable(request: Request, exc: SessionStoreUnavailable) -> JSONResponse:
        # The tool API and session routes: the sessions database is down; nothing was changed.
        return JSONResponse({"detail": exc.message, "code": exc.code, "retryable": True}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {}})
    async def readyz(request: Request) -> Any:
        services: Services | None = getattr(request.app.state, "services", None)
        if services is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        if operations(request).draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        ok, detail = services.ready()
        return JSONResponse({"status": "ready" if ok else "unavailable", "detail": detail}, status_code=200 if ok else 503)

    @app.get("/v1/protocol", tags=["protocol"])
    async def protocol() -> dict[str, Any]:
        return protocol_document()

    return app


def protocol_document() -> dict[str, Any]:
    """Version and JSON Schemas of the WebSocket protocol (also written to docs/)."""
    return {
        "version": PROTOCOL_VERSION,
        "client_events": CLIENT_EVENT.json_schema(),
        "server_events": SERVER_EVENT.json_schema(),
        "turn_events": event_schema(),
    }
