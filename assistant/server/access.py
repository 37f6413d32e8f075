"""The door: who may come in (API keys), how often (rate limits), how big (bodies, frames),
and nothing new while the server drains.

    HTTP       no key or a wrong one        401 {"detail", "code": "unauthorized"}, WWW-Authenticate
               over the rate limit          429 {"detail", "code": "rate_limited"}, Retry-After
               while shutting down          503 {"detail", "code": "server_shutting_down"}, Retry-After
               a body over the limit        413 {"detail", "code": "too_large"} (by Content-Length
                                            before reading, else counted as it arrives)
    WebSocket  the same three refusals      accepted, one `error` event with that code, then closed
                                            with 4401, 4429 or 1001 (a browser cannot read a
                                            refused handshake's status; it can read an event)
               a frame over the limit       an `error` event `frame_too_large`; the socket stays open

Keys come as `Authorization: Bearer KEY` or `X-API-Key: KEY`; on a WebSocket also as
`?api_key=KEY` (browsers cannot set headers on one; the server's log lines hide it).
Public, keys or not: health and readiness, the API's description (`/docs`, `/openapi.json`,
`/v1/protocol`), the widget's page and assets, and product photos (`<img>` tags send no
headers). CORS preflights pass (browsers send no credentials on them). Rate limits count
per client: its address (under its key when keys are configured, so one abuser of a public
widget key drains only their own bucket), plus an optional quota per key for all its
clients together (`key_quota`); one token per request here, one per turn in
`Operations.admit_turn`. The address is the peer's, unless the peer is a configured trusted
proxy (`trusted_proxies`): then it is the right-most address in `X-Forwarded-For` that is
not itself a trusted proxy. A forwarded header from any other peer is ignored (anyone can
write one). uvicorn knows frame sizes only as a
hard cap that ends the connection; below it, this module answers with events. (FastAPI's
own `max_body_size` is not used: it answers an over-long Content-Length in plain text.)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import SessionStoreUnavailable
from assistant.events import ErrorEvent, to_wire
from assistant.server.shopper_tokens import ShopperTokenInvalid

if TYPE_CHECKING:
    from assistant.server.ops import Operations
    from assistant.server.shared_state import Buckets

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/v1/protocol", "/", "/widget.js", "/widget.css"}
)
PUBLIC_PREFIXES = ("/v1/images/",)
CLIENT = "shop_assistant.client"  # scope key: who is asking (a key's fingerprint, or an address): a session's owner
BUCKET = "shop_assistant.bucket"  # scope key: the rate-limit bucket (address, under the key), for turns further in
KEY_ID = "shop_assistant.key"  # scope key: the key's fingerprint, for its quota; absent without keys
SHARED = "shop_assistant.shared"  # scope key: the address's shared bucket, when a shopper token named the client
UNAUTHORIZED_CLOSE = 4401  # WebSocket close codes: 4000 + the HTTP status they stand for
FORBIDDEN_CLOSE = 4403
RATE_LIMITED_CLOSE = 4429
GOING_AWAY_CLOSE = 1001  # RFC 6455: the server is going down
DRAIN_RETRY_S = 5  # Retry-After while shutting down: a restarted server is usually back by then


@dataclass(frozen=True)
class Refusal:
    code: str  # the error event's code
    status: int  # HTTP status
    close: int  # WebSocket close code
    text: str
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        return self.retry_after_s is not None

    def event(self) -> ErrorEvent:
        return ErrorEvent(error_text=self.text, code=self.code, retryable=self.retryable)


def unauthorized(presented: bool) -> Refusal:
    how = "Authorization: Bearer KEY, X-API-Key: KEY, or ?api_key=KEY on a WebSocket"
    text = "the API key is not valid" if presented else f"an API key is required: {how}"
    return Refusal("unauthorized", 401, UNAUTHORIZED_CLOSE, text)


def forbidden_origin(origin: str) -> Refusal:
    text = f"pages on {origin} may not open this socket; the server lists the origins it serves (--cors-origin)"
    return Refusal("forbidden_origin", 403, FORBIDDEN_CLOSE, text)


def socket_origin_refused(scope: Scope, allowed: Iterable[str]) -> str | None:
    """The browser page's origin when it may not open a socket here, else None.

    Browsers let any page open a WebSocket to any address (CORS does not apply), so without a
    check a page on any site could use a server on the shopper's own machine. A socket is
    allowed with no `Origin` (not a browser), from the server's own origin (the page at `/`),
    or from an origin the server lists for CORS ("*": any)."""
    headers = dict(scope["headers"])
    origin = headers.get(b"origin", b"").decode("latin-1").strip()
    if not origin:
        return None
    allowed = list(allowed)
    if "*" in allowed or origin in allowed:
        return None
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    if origin.lower().split("://", 1)[-1] == host:
        return None
    return origin


def rate_limited(wait_s: float, what: str = "requests") -> Refusal:
    return Refusal("rate_limited", 429, RATE_LIMITED_CLOSE, f"too many {what}; try again in {math.ceil(wait_s)} s", wait_s)


TRY_AGAIN_LATER_CLOSE = 1013  # WebSocket close code (RFC 6455 registry): a service the server needs is down for now
SHARED_DOWN_RETRY_S = 5.0  # Retry-After while the shared limits' database is unreachable


def too_large(limit: int) -> Refusal:
    return Refusal("too_large", 413, 1009, f"the request body is over the {limit:,} byte limit")


def shutting_down() -> Refusal:
    return Refusal("server_shutting_down", 503, GOING_AWAY_CLOSE, "the server is shutting down; reconnect in a few seconds", DRAIN_RETRY_S)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def presented_key(scope: Scope) -> str | None:
    """The API key the client sent, if any: Authorization Bearer, X-API-Key, or (WebSocket) ?api_key=."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return _presented(scope, b"x-api-key", "api_key")


def _presented(scope: Scope, header: bytes, param: str) -> str | None:
    """A credential from its header, or on a WebSocket from the query (browsers cannot set headers there)."""
    for name, value in scope["headers"]:
        if name == header and value.strip():
            return value.decode("latin-1").strip()
    if scope["type"] == "websocket":
        found = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(param)
        if found and found[0]:
            return found[0]
    return None


def key_matches(key: str, keys: Iterable[str]) -> bool:
    """Compare with every configured key in constant time (no early exit that a timer could see)."""
    given = key.encode()
    return bool(sum(hmac.compare_digest(given, k.encode()) for k in keys))


def key_id(key: str) -> str:
    """A key's fingerprint, never the key (it goes into logs, buckets, sessions)."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def client_address(scope: Scope, proxies: Sequence[IPNetwork] = ()) -> str:
    """The client's address: the peer's, or behind trusted proxies the right-most forwarded
    address that is not one of them (the left part of the header is the client's to write)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = [a.strip() for name, v in scope["headers"] if name == b"x-forwarded-for" for a in v.decode("latin-1").split(",")]
    for hop in reversed(forwarded):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled chain: believe only the proxy itself
        if not _trusted(hop, proxies):
            return hop
    return peer


def _trusted(address: str, proxies: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_name(scope: Scope, key: str | None, proxies: Sequence[IPNetwork] = ()) -> str:
    """Who is asking: a key's fingerprint, else the client address."""
    return key_id(key) if key is not None else f"addr:{client_address(scope, proxies)}"


async def spend(ops: Operations, scope: Scope) -> float:
    """One token from the client's bucket, its address's shared bucket when a shopper token
    named the client, and its key's quota: 0.0 when allowed, else seconds to wait (a later
    refusal gives the earlier tokens back)."""
    taken: list[tuple[Buckets, str]] = []
    steps = [
        (ops.limiter, scope.get(BUCKET) or f"addr:{client_address(scope, ops.proxies)}"),
        (ops.shared, scope.get(SHARED)),
        (ops.quota, scope.get(KEY_ID)),
    ]
    for limiter, name in steps:
        if name is None:
            continue
        if wait := await limiter.take(name):
            for done, was in taken:
                await done.refund(was)
            return wait
        taken.append((limiter, name))
    return 0.0


def presented_shopper_token(scope: Scope) -> str | None:
    """`X-Shopper-Token`, or on a WebSocket `?shopper_token=` (see `shopper_tokens`)."""
    return _presented(scope, b"x-shopper-token", "shopper_token")


def shopper_token_invalid(why: str) -> Refusal:
    return Refusal("shopper_token_invalid", 401, UNAUTHORIZED_CLOSE, f"{why}; fetch a new one (POST /v1/shopper-token)")


def _is_preflight(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] == "OPTIONS" and any(k == b"access-control-request-method" for k, _ in scope["headers"])


def _content_length(scope: Scope) -> int:
    value = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
    return int(value) if value.isdigit() else 0


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive` that fails with 413 once the body passes `limit` bytes (the route's handler renders it)."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, too_large(limit).text)
        return message

    return counted


def _frame_too_large(message: Message, limit: int) -> bool:
    if (data := message.get("bytes")) is not None:
        return len(data) > limit
    text = message.get("text") or ""
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8")) > limit)


class AccessMiddleware:
    """The door as ASGI middleware, innermost of the operations stack (see `ops.add_operations`)."""

    def __init__(self, app: ASGIApp, ops: Operations) -> None:
        self.app = app
        self.ops = ops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            limit = self.ops.settings.max_body_bytes
            if _content_length(scope) > limit:
                await self._refuse_http(too_large(limit), scope, receive, send)
                return
            receive = _counted(receive, limit)
        if scope["type"] not in ("http", "websocket") or is_public(scope["path"]) or _is_preflight(scope):
            await self.app(scope, receive, send)
            return
        refusal = await self.admit(scope)
        if refusal is not None:
            await (self._refuse_http if scope["type"] == "http" else self._refuse_websocket)(refusal, scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def admit(self, scope: Scope) -> Refusal | None:
        """Draining, then the key, then the rate limit (a wrong key never spends a valid key's tokens)."""
        if self.ops.draining:
            return shutting_down()
        if scope["type"] == "websocket" and (origin := socket_origin_refused(scope, self.ops.settings.cors_origins)) is not None:
            return forbidden_origin(origin)
        keys = self.ops.settings.api_keys
        key = presented_key(scope) if keys else None
        if keys and (key is None or not key_matches(key, keys)):
            return unauthorized(presented=key is not None)
        address = client_address(scope, self.ops.proxies)
        scope[CLIENT] = client_name(scope, key, self.ops.proxies)
        kid = key_id(key) if key is not None else None
        under = f"{kid}|" if kid else ""
        scope[BUCKET] = f"{under}addr:{address}"
        if kid is not None:
            scope[KEY_ID] = kid
        if (token := presented_shopper_token(scope)) is not None:
            try:
                shopper = self.ops.shopper_tokens.read(token, kid)
            except ShopperTokenInvalid as e:
                return shopper_token_invalid(str(e))
            scope[BUCKET], scope[SHARED] = f"{under}shopper:{shopper.id}", f"{under}addr:{address}"
        try:
            wait = await spend(self.ops, scope)
        except SessionStoreUnavailable as e:  # replicas' shared limits are in the sessions database
            return Refusal(e.code, 503, TRY_AGAIN_LATER_CLOSE, e.message, SHARED_DOWN_RETRY_S)
        return rate_limited(wait, "connections" if scope["type"] == "websocket" else "requests") if wait else None

    @staticmethod
    async def _refuse_http(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {}
        if refusal.retry_after_s is not None:
            headers["retry-after"] = str(math.ceil(refusal.retry_after_s))
        if refusal.status == 401:
            headers["www-authenticate"] = 'Bearer realm="shop-assistant"'
        body = {"detail": refusal.text, "code": refusal.code, "retryable": refusal.retryable}
        await JSONResponse(body, status_code=refusal.status, headers=headers)(scope, receive, send)

    @staticmethod
    async def _refuse_websocket(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": to_wire(refusal.event())})
        await send({"type": "websocket.close", "code": refusal.close, "reason": refusal.code})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the socket: frames over the limit become error events; the drain can close it (1001)."""
        sockets = self.ops.sockets
        limit = self.ops.settings.max_frame_bytes
        closed_by_server = False

        async def go_away() -> None:
            nonlocal closed_by_server
            sockets.pop(go_away, None)
            if not closed_by_server:
                closed_by_server = True
                await send({"type": "websocket.close", "code": GOING_AWAY_CLOSE, "reason": "server shutting down"})

        async def tracked_send(message: Message) -> None:
            if closed_by_server:
                return  # the drain closed this socket: the app's late frames have nowhere to go
            if message["type"] == "websocket.accept":
                sockets[go_away] = None
            elif message["type"] == "websocket.close":
                sockets.pop(go_away, None)
            await send(message)

        async def limited_receive() -> Message:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive" and _frame_too_large(message, limit):
                    text = f"the frame is over the {limit:,} byte limit; send photos under 20 MB and clips under 50 MB (base64 or a binary frame)"
                    await tracked_send({"type": "websocket.send", "text": to_wire(ErrorEvent(error_text=text, code="frame_too_large"))})
                    continue
                if message["type"] == "websocket.disconnect":
                    sockets.pop(go_away, None)
                return message

        try:
            await self.app(scope, limited_receive, tracked_send)
        finally:
            sockets.pop(go_away, None)
