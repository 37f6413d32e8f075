"""Request ids: one per HTTP request and per WebSocket connection, in every log record.

Owns the id's life: taken from the client's `X-Request-Id` header when it is a sane token,
made otherwise; returned in the response's `X-Request-Id` header (on a WebSocket, in the
handshake response); held in a context variable for the request's task, so every log
record made while serving it (uvicorn's access line, the agent's, a worker thread's when
the thread runs in a copy of the context, as `turns.stream_turn` does) carries
`request_id` and `session_id` attributes. Also owns the server's log format
(`log_config`), which shows both and hides API keys passed in a query string.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
SESSION_ID: ContextVar[str] = ContextVar("session_id", default="-")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # a client's id is echoed into logs and headers: nothing else passes
_KEY_IN_QUERY = re.compile(r"((?:api_key|shopper_token)=)[^&\s\"']+")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [rid=%(request_id)s sid=%(session_id)s] %(message)s"


def bind_session(session_id: str) -> None:
    """Name the session being served, for the rest of this request's (or connection's) log records."""
    SESSION_ID.set(session_id)


class RequestIdMiddleware:
    """Takes or makes the request id, echoes it in `X-Request-Id`, and binds it for logging."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        # Set, not reset afterwards: the request's task ends with the request, and uvicorn's own
        # lines about it (an access line, an unhandled exception) come after the app returns.
        REQUEST_ID.set(rid)
        SESSION_ID.set("-")
        scope["request_id"] = rid
        start = "http.response.start" if scope["type"] == "http" else "websocket.accept"

        async def send_with_id(message: Message) -> None:
            if message["type"] == start:
                message = {**message, "headers": [*message.get("headers", []), (HEADER.encode(), rid.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_id)


def install_log_context() -> None:
    """Give every log record `request_id` and `session_id` attributes (once per process)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_shop_assistant", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        record.session_id = SESSION_ID.get()
        return record

    factory._shop_assistant = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class RedactingFormatter(logging.Formatter):
    """The server's log line; an `api_key=` in a logged URL (WebSocket clients pass one there) shows as `***`."""

    def format(self, record: logging.LogRecord) -> str:
        for name in ("request_id", "session_id"):  # records made before `install_log_context`
            if not hasattr(record, name):
                setattr(record, name, "-")
        return _KEY_IN_QUERY.sub(r"\1***", super().format(record))


def log_config(level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn and the app: one handler on stderr, ids and no keys in every line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"server": {"()": f"{__name__}.RedactingFormatter", "fmt": LOG_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "server", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"handlers": [], "level": level.upper(), "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
