"""Prometheus metrics, in a registry owned by one app (so several apps in a process never collide).

    shop_assistant_turns_total{channel, outcome}          turns by channel (ws, sse, voice) and
                                                          outcome (ok, error, cancelled, interrupted)
    shop_assistant_stage_seconds{channel, stage}          latency per stage: first_card (first
                                                          `data-products`), first_text (first
                                                          `text-delta`), total; voice adds
                                                          transcribe and tts_first_audio; inside
                                                          a turn: queue, plan, encode, index
                                                          (`assistant.stages`)
    shop_assistant_error_events_total{route, code}        every `error` event sent (WebSocket
                                                          frames and SSE `data-error` chunks)
    shop_assistant_http_errors_total{route, status}       HTTP responses with status >= 400
    shop_assistant_http_request_seconds{method, route}    HTTP request latency (to the last byte)
    shop_assistant_open_websockets                        WebSocket connections open now

Owns the instruments and the middleware that feeds the transport-level ones. Turn timings
come from `ops.TurnWatch`, which watches a turn's events go by; voice code reports its own
stages with `Metrics.observe_stage`. Routes are labelled by their template
(`/v1/tools/{name}`), never the raw path; unmatched paths share the label `unmatched`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.stages import TURN_STAGES

CHANNELS = ("ws", "sse", "voice")
OUTCOMES = ("ok", "error", "cancelled", "interrupted")
STAGES = ("first_card", "first_text", "total", "transcribe", "tts_first_audio", *TURN_STAGES)
# seconds; fine at the low end, where a turn's inner stages (milliseconds) and the first card live
STAGE_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "unmatched"
_ERROR_FRAME = '{"type":"error"'  # how `events.to_wire` starts an error event
_SSE_ERROR = b'"type":"data-error"'  # the SSE stream's error-code chunk


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.turns = Counter("shop_assistant_turns", "Turns run, by channel and outcome.", ["channel", "outcome"], registry=r)
        self.stage_seconds = Histogram(
            "shop_assistant_stage_seconds", "Latency of a turn's stages, in seconds.", ["channel", "stage"], buckets=STAGE_BUCKETS, registry=r
        )
        self.error_events = Counter("shop_assistant_error_events", "Error events sent to clients, by route and code.", ["route", "code"], registry=r)
        self.http_errors = Counter("shop_assistant_http_errors", "HTTP responses with status >= 400.", ["route", "status"], registry=r)
        self.http_seconds = Histogram("shop_assistant_http_request_seconds", "HTTP request latency, in seconds.", ["method", "route"], registry=r)
        self.open_websockets = Gauge("shop_assistant_open_websockets", "WebSocket connections open now.", registry=r)

    def observe_stage(self, stage: str, seconds: float, channel: str = "voice") -> None:
        """Record one stage's latency, e.g. `observe_stage("transcribe", 0.42)` from the voice path."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
        self.stage_seconds.labels(channel, stage).observe(seconds)

    def count_turn(self, channel: str, outcome: str) -> None:
        self.turns.labels(channel, outcome).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (serve with `CONTENT_TYPE`)."""
        return generate_latest(self.registry)


def route_label(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The route's template: the one the router chose, else the first of `routes` that matches
    (a request refused before routing), else `unmatched`."""
    route = scope.get("route")
    if route is None:
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
    return getattr(route, "path", None) or UNMATCHED


class MetricsMiddleware:
    """Times HTTP requests, counts HTTP errors and error events as they leave, tracks open sockets."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # the app's routes (a live list), to label requests refused before routing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        m = self.metrics
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering
        event_stream = False

        async def watch(message: Message) -> None:
            nonlocal status, event_stream
            if message["type"] == "http.response.start":
                status = message["status"]
                event_stream = any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in message.get("headers", []))
            elif event_stream and message["type"] == "http.response.body" and _SSE_ERROR in message.get("body", b""):
                for code in _sse_error_codes(message["body"]):
                    m.error_events.labels(route_label(scope, self.routes), code).inc()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = route_label(scope, self.routes)
            m.http_seconds.labels(scope["method"], route).observe(time.perf_counter() - start)
            if status >= 400:
                m.http_errors.labels(route, str(status)).inc()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        m = self.metrics
        is_open = False

        def closed() -> None:
            nonlocal is_open
            if is_open:
                is_open = False
                m.open_websockets.dec()

        async def watch(message: Message) -> None:
            nonlocal is_open
            kind = message["type"]
            if kind == "websocket.accept" and not is_open:
                is_open = True
                m.open_websockets.inc()
            elif kind == "websocket.send" and (text := message.get("text")) and text.startswith(_ERROR_FRAME):
                m.error_events.labels(route_label(scope, self.routes), _error_code(text)).inc()
            elif kind == "websocket.close":
                closed()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            closed()


def _error_code(frame: str) -> str:
    try:
        return str(json.loads(frame).get("code", "unknown"))
    except ValueError:
        return "unknown"


def _sse_error_codes(body: bytes) -> list[str]:
    codes = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: ") and _SSE_ERROR in line:
            try:
                codes.append(str(json.loads(line[len(b"data: ") :])["data"]["code"]))
            except (ValueError, KeyError, TypeError):
                codes.append("unknown")
    return codes
