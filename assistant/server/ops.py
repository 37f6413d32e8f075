"""Running the server in production: the per-app operations state, its wiring, and graceful shutdown.

    add_operations(app, settings)   the middleware stack, /metrics, the OpenAPI security notes
    Operations                      per app: settings, metrics, rate limiter, turns in flight,
                                    open sockets, whether the server is draining
    TurnWatch                       one turn as operations sees it (stage timings, outcome, and
                                    the drain's handle on it); `turns.stream_turn` drives it
    DrainingServer                  uvicorn's server, which on shutdown first drains the app

Shutdown, in order: stop accepting connections; refuse new turns (`server_shutting_down`);
let turns in flight finish for `shutdown_grace_s`, then end the rest with a
`server_shutting_down` error event and `finish`; close every WebSocket with 1001; then
uvicorn's own shutdown and the app's lifespan, which waits for the turn workers, so every
session a turn saved is on disk before the store closes. Plain `uvicorn.Server` skips the
drain: its shutdown closes sockets with 1012 at once and cancels the turns on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.types import Scope

from assistant.errors import SessionStoreUnavailable
from assistant.events import ErrorEvent, Finish
from assistant.server import access
from assistant.server.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from assistant.server.request_ids import RequestIdMiddleware, install_log_context, log_config
from assistant.server.settings import ServerSettings
from assistant.server.shared_state import Buckets, LocalBuckets, LocalLeases, SharedState, SocketLeases
from assistant.server.shopper_tokens import ShopperTokens

INTERRUPT_WAIT_S = 5.0  # after the grace: time for interrupted turns to send their error event
log = logging.getLogger(__name__)


class TurnWatch:
    """One turn's view for operations: when its first card and first words went out, how it
    ended, and a way for the drain to end it early. Made by `Operations.turn_watch`, driven
    by `turns.stream_turn` (`begin`, `saw` per event, `end`)."""

    def __init__(self, ops: Operations, channel: str) -> None:
        self.ops = ops
        self.channel = channel
        self.started = 0.0
        self.finished = False  # a `finish` event went by
        self.failed = False  # an `error` event went by
        self.interrupted = False
        self._interrupt: Callable[[], None] | None = None
        self._seen: set[str] = set()

    def begin(self, interrupt: Callable[[], None]) -> None:
        """The turn started; `interrupt` makes it end with `server_shutting_down` (called on the loop)."""
        self.started = time.perf_counter()
        self._interrupt = interrupt
        self.ops.turns.add(self)
        self.ops.idle.clear()

    def saw(self, event: BaseModel) -> None:
        kind = getattr(event, "type", "")
        stage = {"data-products": "first_card", "text-delta": "first_text"}.get(kind)
        if stage is not None and stage not in self._seen:
            self._seen.add(stage)
            self.ops.metrics.stage_seconds.labels(self.channel, stage).observe(time.perf_counter() - self.started)
        if kind == "error":
            self.failed = True
        elif kind == "finish":
            self.finished = True

    def stage(self, stage: str, seconds: float) -> None:
        """A stage inside the turn (`assistant.stages`), timed where it ran; any thread may call it."""
        self.ops.metrics.observe_stage(stage, seconds, self.channel)

    def interrupt(self) -> None:
        if not self.finished and not self.interrupted and self._interrupt is not None:
            self.interrupted = True
            self._interrupt()

    def shutdown_events(self) -> list[BaseModel]:
        """What an interrupted turn sends instead of the rest of its answer."""
        text = "The server is shutting down, so this answer stopped; please send it again in a few seconds."
        return [ErrorEvent(error_text=text, code="server_shutting_down", retryable=True), Finish()]

    def end(self) -> None:
        """The turn's stream is over: the client has every event it will get."""
        if self not in self.ops.turns:
            return
        self.ops.turns.discard(self)
        if self.interrupted:
            outcome = "interrupted"
        elif self.finished:
            outcome = "error" if self.failed else "ok"
            self.ops.metrics.stage_seconds.labels(self.channel, "total").observe(time.perf_counter() - self.started)
        else:
            outcome = "cancelled"  # barge-in, or the client left
        self.ops.metrics.count_turn(self.channel, outcome)
        if not self.ops.turns:
            self.ops.idle.set()


class Operations:
    """What one app instance knows about its own running: built by `add_operations`, at `app.state.ops`."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        # Limits and the one-socket-per-session rule: in this process, or in PostgreSQL when
        # replicas share them (`shared_state`; the pool opens in `start`, on the server's loop).
        self.shared_state = SharedState(settings.shared_state) if settings.shared_state else None
        buckets = self.shared_state.buckets if self.shared_state else lambda _name, per_minute, burst: LocalBuckets(per_minute, burst)
        limit, quota, share = settings.rate_limit, settings.key_quota, settings.address_share
        self.limiter: Buckets = buckets("client", limit.per_minute, limit.burst)  # per client
        self.quota: Buckets = buckets("quota", quota.per_minute, quota.burst)  # per API key, on top
        # the shoppers (with tokens) behind one address, together
        self.shared: Buckets = buckets("shared", limit.per_minute * share, limit.burst * share)
        self.leases: SocketLeases = self.shared_state.leases if self.shared_state else LocalLeases()
        secret = settings.token_secret.get_secret_value().encode() if settings.token_secret else None
        self.shopper_tokens = ShopperTokens(secret, settings.shopper_token_ttl_s)
        self.proxies = settings.proxy_networks
        self.turns: set[TurnWatch] = set()  # in flight
        self.sockets: dict[Callable[[], Awaitable[None]], None] = {}  # open WebSockets: each one's close-with-1001
        self.draining = False
        self.idle = asyncio.Event()  # set whenever no turn is in flight

    def turn_watch(self, channel: str) -> TurnWatch:
        """A watch to pass to `stream_turn`; channel is ws, sse or voice."""
        return TurnWatch(self, channel)

    async def start(self) -> None:
        """Open what the app shares with other replicas, if anything (on the server's loop)."""
        if self.shared_state is not None:
            await self.shared_state.start()

    async def close(self) -> None:
        if self.shared_state is not None:
            await self.shared_state.close()

    async def admit_turn(self, scope: Scope) -> ErrorEvent | None:
        """None when a turn may start on this connection, else the error event that says why not."""
        if self.draining:
            return access.shutting_down().event()
        try:
            wait = await access.spend(self, scope)
        except SessionStoreUnavailable as e:
            return ErrorEvent(error_text=e.message, code=e.code, retryable=True)
        return access.rate_limited(wait, "messages").event() if wait else None

    async def drain(self, give_up: Callable[[], bool] = lambda: False) -> None:
        """Refuse new work, let turns in flight finish (then interrupt them), and close the sockets with 1001."""
        self.draining = True
        if self.turns:
            log.info("draining: %d turn(s) in flight, up to %g s", len(self.turns), self.settings.shutdown_grace_s)
            await self._wait_idle(self.settings.shutdown_grace_s, give_up)
        if self.turns:
            log.warning("draining: ending %d turn(s) still in flight with server_shutting_down", len(self.turns))
            for watch in list(self.turns):
                watch.interrupt()
            await self._wait_idle(INTERRUPT_WAIT_S, give_up)
        for go_away in list(self.sockets):
            await go_away()

    async def _wait_idle(self, seconds: float, give_up: Callable[[], bool]) -> None:
        deadline = time.monotonic() + seconds
        while self.turns and not give_up() and (left := deadline - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(self.idle.wait(), timeout=min(left, 0.1))  # short steps: `give_up` is polled
            except TimeoutError:
                pass


def operations(conn: HTTPConnection) -> Operations:
    """The app's operations state, from a request or a WebSocket."""
    return conn.app.state.ops  # type: ignore[no-any-return]


def add_operations(app: FastAPI, settings: ServerSettings) -> Operations:
    """Wire operations into `app`; call right after making it, before other middleware.

    The stack, outermost first: request ids (so every later line and refusal carries one),
    metrics (so refusals are counted), CORS (so refusals reach browser code), then the door
    (keys, rate limits, frame sizes, draining); routes added later sit inside all of them.
    """
    install_log_context()
    ops = Operations(settings)
    app.state.ops = ops
    app.state.metrics = ops.metrics  # for code that only reports (`Metrics.observe_stage`)
    app.add_middleware(access.AccessMiddleware, ops=ops)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[
                "authorization",
                "x-api-key",
                "content-type",
                "x-session-id",
                "x-shopper-token",
                "x-request-id",
                "mcp-session-id",
                "mcp-protocol-version",
            ],  # fmt: skip
            expose_headers=["x-request-id", "retry-after", "x-vercel-ai-ui-message-stream", "mcp-session-id"],
        )
    app.add_middleware(MetricsMiddleware, metrics=ops.metrics, routes=app.router.routes)
    app.add_middleware(RequestIdMiddleware)

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        text = access.too_large(settings.max_body_bytes).text
        return JSONResponse({"detail": text, "code": "too_large", "retryable": False}, status_code=413)

    app.add_exception_handler(413, too_large)  # a body that grew past the limit as it arrived (see `access`)

    @app.get("/metrics", tags=["ops"], response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
    async def metrics(request: Request) -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(operations(request).metrics.exposition(), media_type=CONTENT_TYPE)

    _document_access(app, settings)
    return ops


def _document_access(app: FastAPI, settings: ServerSettings) -> None:
    """Add the answers every protected route may give to the OpenAPI document: the key schemes,
    401, 429 and 503 from the door; 413 and 400 (a body that is not JSON) for routes with a body."""
    make_schema = app.openapi
    error_body = {
        "type": "object",
        "properties": {"detail": {"type": "string"}, "code": {"type": "string"}, "retryable": {"type": "boolean"}},
        "required": ["detail"],
    }

    def schema() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = make_schema()
        components = doc.setdefault("components", {})
        components.setdefault("schemas", {})["AccessError"] = error_body
        if settings.api_keys:
            components["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/AccessError"}}}}
        for path, item in doc.get("paths", {}).items():
            if access.is_public(path):
                continue
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                if settings.api_keys:
                    operation["security"] = [{"bearer": []}, {"apiKey": []}]
                    responses.setdefault("401", {"description": "No API key, or a wrong one", **ref})
                if settings.rate_limit.enabled:
                    responses.setdefault("429", {"description": "Over the rate limit; see Retry-After", **ref})
                responses.setdefault("503", {"description": "The server is shutting down; see Retry-After", **ref})
                if "requestBody" in operation:
                    responses.setdefault("413", {"description": f"The body is over {settings.max_body_bytes:,} bytes", **ref})
                    responses.setdefault("400", {"description": "The body cannot be parsed as JSON"})
        app.openapi_schema = doc
        return doc

    app.openapi = schema  # type: ignore[method-assign]


class DrainingServer(uvicorn.Server):
    """uvicorn's server whose shutdown first drains the app (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, ops: Operations) -> None:
        super().__init__(config)
        self.ops = ops

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the turns in flight finish
        await self.ops.drain(give_up=lambda: self.force_exit)  # a second Ctrl+C skips the wait
        await super().shutdown(sockets)


def server_config(app: FastAPI, settings: ServerSettings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's config for `app` under `settings`: frame cap, graceful timeout beyond the drain, log format."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ws_max_size": settings.ws_transport_max_bytes,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s + INTERRUPT_WAIT_S + 5),
        "log_config": log_config(),
        # uvicorn would rewrite the peer from X-Forwarded-For sent by 127.0.0.1 on its own;
        # which forwarded addresses to believe is `trusted_proxies`' rule alone (see `access`).
        "proxy_headers": False,
        **overrides,
    }
    return uvicorn.Config(app, **options)
