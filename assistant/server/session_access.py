"""Who may use a session: ids the server issues, bound to the caller that made them, ended when idle.

A session holds a cart, so its id works like a bearer token; the rules make it one a client
cannot guess, share across API keys, or keep forever:

- Ids are made here (`secrets.token_urlsafe`, 192 bits), never by the client: the WebSocket
  without `?session_id=` gets a new one in `session.created`; `POST /v1/sessions` makes one
  for the tool API and MCP (`open_session` tool). A client-made id that the server never
  issued is `session_unknown`. The one exception is the SSE stream: the AI SDK's `useChat`
  makes its chat ids on the client, so an unknown SSE chat id starts a session under that id,
  bound to its caller like any other.
- A session belongs to the API key that created it (its fingerprint, never the key); used
  with another key it is `session_forbidden` and nothing in it changes. With no keys
  configured (a loopback server) there is no one to tell apart, and sessions are unbound; a
  session made before keys were turned on is bound to the first key that uses it.
- A session idle (not saved) for longer than `ServerSettings.session_idle_s` has expired:
  used again it answers `session_expired` and is deleted, cart and history with it
  (retention: nothing of an idle session outlives its expiry by more than its next use or the
  server's next start, which purges every expired one).

    code                WebSocket close    HTTP
    session_unknown     4404               404
    session_forbidden   4403               403
    session_expired     4410               410
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from assistant.events import ErrorEvent
from assistant.server.access import CLIENT, KEY_ID
from assistant.server.ops import operations
from assistant.server.shopper_tokens import NewShopperToken
from assistant.sessions import SessionState, SessionStore
from tools.context import ToolContext
from tools.registry import ToolError, call_tool

CART_CHANGES = frozenset({"add_to_cart", "remove_from_cart"})  # tools whose result is saved in the session
SESSION_ID_BYTES = 24  # 192 random bits: guessing one of a million live ids takes ~2^172 tries


@dataclass(frozen=True)
class SessionRefusal:
    code: str
    status: int
    close: int
    text: str

    def event(self) -> ErrorEvent:
        return ErrorEvent(error_text=self.text, code=self.code)


def unknown(session_id: str) -> SessionRefusal:
    why = "session ids are issued by the server (connect without one, or POST /v1/sessions)"
    return SessionRefusal("session_unknown", 404, 4404, f"no session {session_id[:40]!r}: {why}")


FORBIDDEN = SessionRefusal("session_forbidden", 403, 4403, "this session belongs to another API key")


def expired(idle_s: float) -> SessionRefusal:
    return SessionRefusal("session_expired", 410, 4410, f"the session expired after {idle_s:g} s idle and was deleted; start a new one")


def owner_of(scope: Any) -> str | None:
    """Whom a session made by this request belongs to: the API key's fingerprint, or no one
    when the server has no keys (an address is no identity: a proxy or a phone changes it)."""
    client = scope.get(CLIENT) if scope is not None else None
    return client if isinstance(client, str) and client.startswith("key:") else None


class SessionGate:
    """Issue and admit sessions of one store under one idle limit."""

    def __init__(self, store: SessionStore, idle_s: float, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.idle_s = idle_s
        self.clock = clock

    def issue(self, owner: str | None) -> SessionState:
        state = SessionState(session_id=secrets.token_urlsafe(SESSION_ID_BYTES), owner=owner)
        self.store.save(state)
        return state

    def admit(self, session_id: str, owner: str | None, create: bool = False) -> SessionState | SessionRefusal:
        """The session if `owner` may use it now; else why not. `create`: an unknown id starts
        a session under it (the SSE stream's client-made chat ids)."""
        state = self.store.load(session_id)
        if state is None:
            if not create:
                return unknown(session_id)
            state = SessionState(session_id=session_id, owner=owner)
            self.store.save(state)
            return state
        if state.owner is not None and state.owner != owner:
            return FORBIDDEN  # checked before expiry: another key learns nothing, and deletes nothing
        if self.clock() - state.updated_at > self.idle_s:
            self.store.delete(session_id)
            return expired(self.idle_s)
        if state.owner is None and owner is not None:
            state.owner = owner  # made before keys were on: the first key to use it keeps it
            self.store.save(state)
        return state

    def call(self, services: Any, session_id: str, owner: str | None, name: str, arguments: dict[str, Any]) -> BaseModel | SessionRefusal:
        """One tool call on a session, as the tool API and MCP both make it: the session held
        from load to save (a turn of it saving meanwhile would drop the change), admitted for
        `owner`, and saved after a cart change that went through."""
        with self.store.held(session_id):
            state = self.admit(session_id, owner)
            if isinstance(state, SessionRefusal):
                return state
            result = call_tool(ToolContext(services.retriever, state, services.policies), name, arguments)
            if name in CART_CHANGES and not isinstance(result, ToolError):
                self.store.save(state)
        return result

    def purge(self) -> int:
        """Delete every expired session; how many went."""
        return self.store.purge_idle(self.clock() - self.idle_s)


def gate(services: Any, settings: Any) -> SessionGate:
    return SessionGate(services.store, settings.session_idle_s)


class NewSession(BaseModel):
    session_id: str
    idle_expiry_s: float


router = APIRouter(tags=["sessions"])


@router.post("/v1/sessions", status_code=201, summary="Start a session (its cart and conversation) for the tool API or MCP")
async def new_session(request: Request) -> NewSession:
    g = gate(request.app.state.services, operations(request).settings)
    state = g.issue(owner_of(request.scope))
    return NewSession(session_id=state.session_id, idle_expiry_s=g.idle_s)


@router.post("/v1/shopper-token", status_code=201, summary="A short-lived token naming one shopper, for per-shopper rate limits")
async def new_shopper_token(request: Request) -> NewShopperToken:
    tokens = operations(request).shopper_tokens
    return NewShopperToken(token=tokens.mint(request.scope.get(KEY_ID)), expires_in_s=tokens.ttl_s)
