"""Conversation sessions: their state and the store that keeps it across restarts.

Owns `SessionState` (history, active filters, products shown, cart, likes and dislikes, a
pending confirmation) and `SqliteSessionStore`, the embedded default: one SQLite file, WAL
mode, one row per session holding its state as JSON. A restart or a dropped socket loses
nothing; a session resumes by id. Does not own what a turn does with the state (the agent).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


class CallNote(BaseModel):
    """One tool call of a turn, as the history keeps it: what ran, on which products."""

    tool: str
    product_ids: list[str] = Field(default_factory=list)
    query: str | None = None  # a search's words and filters, as one line
    changed: bool = True  # False: the call was answered with an error and changed nothing


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    at: float = Field(default_factory=time.time)
    calls: list[CallNote] = Field(default_factory=list)  # an assistant turn's tool calls


class Mention(BaseModel):
    id: str
    name: str


class HistorySummary(BaseModel):
    """The turns that no longer fit the model's history budget, kept as data (built from the
    turns' own tool calls, never from a model's prose, so it cannot remember a wrong fact).
    `assistant.history` folds turns into it."""

    turns: int = 0  # turns folded in so far
    asked: list[str] = Field(default_factory=list)  # the shopper's messages, shortened, newest last
    searches: list[str] = Field(default_factory=list)  # "black watches (colour: black)", newest last
    products: list[Mention] = Field(default_factory=list)  # looked at, compared, added or removed
    cart: list[str] = Field(default_factory=list)  # "added <name>", "removed <name>", newest last


class CartLine(BaseModel):
    product_id: str
    name: str
    quantity: int = Field(1, ge=1)


class PendingAction(BaseModel):
    """An action waiting for the shopper's yes or no (e.g. adding to the cart)."""

    tool: str
    arguments: dict[str, Any]
    prompt: str
    more: list[dict[str, Any]] = Field(default_factory=list)  # further calls of the same tool ("add both")

    def calls(self) -> list[dict[str, Any]]:
        return [self.arguments, *self.more]


class EarlierSearch(BaseModel):
    """A search the shopper moved on from, to go back to ("go back to the previous results")."""

    query: str
    filters: dict[str, Any] = Field(default_factory=dict)


class ShownCard(BaseModel):
    """A product as last shown: what references ("the red one") and "why?" need."""

    id: str
    name: str
    category: str | None = None
    colour: str | None = None
    why: str = ""


class SessionState(BaseModel):
    session_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    history: list[Turn] = Field(default_factory=list)  # the recent turns, within the history budget
    summary: HistorySummary = Field(default_factory=HistorySummary)  # the turns before them
    active_filters: dict[str, Any] = Field(default_factory=dict)  # search tool filters as a dict
    filters_applied: list[str] = Field(default_factory=list)  # as the last search described them
    last_query: str | None = None  # the semantic words of the last search
    earlier: list[EarlierSearch] = Field(default_factory=list)  # searches before it, newest last
    shown: list[ShownCard] = Field(default_factory=list)  # in the order last shown
    seen: list[ShownCard] = Field(default_factory=list)  # everything shown this session, newest last
    focus: str | None = None  # the product "it" refers to
    cart: list[CartLine] = Field(default_factory=list)
    likes: list[str] = Field(default_factory=list)
    dislikes: list[str] = Field(default_factory=list)
    pending: PendingAction | None = None
    updated_at: float = Field(default_factory=time.time)
    owner: str | None = None  # the API key fingerprint it belongs to (`server.session_access`); None: unbound


class SessionStore(Protocol):
    def load(self, session_id: str) -> SessionState | None: ...

    def save(self, state: SessionState) -> None: ...

    def delete(self, session_id: str) -> None: ...

    def purge_idle(self, before: float) -> int: ...

    def held(self, session_id: str) -> AbstractContextManager[None]:
        """Exclusive use of one session from load to save: a turn and a cart call on the same
        session never overwrite each other's changes."""
        ...

    def close(self) -> None: ...


SESSION_STORE_SCHEMES = ("sqlite", "postgresql")


def open_store(url: str | None, data_dir: Path) -> SessionStore:
    """The store a `--sessions` URL names: none → SQLite in `data_dir/sessions.db` (one
    machine), `sqlite:///PATH` → that SQLite file (four slashes for an absolute path), `postgresql://...` (or `postgres://`) →
    PostgreSQL, shared by server replicas (`assistant.sessions_pg`)."""
    from assistant.errors import ConfigError

    if url is None:
        return SqliteSessionStore(data_dir / "sessions.db")
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite" and url.removeprefix("sqlite:///"):
        return SqliteSessionStore(Path(url.removeprefix("sqlite:///")))  # SQLAlchemy's form: sqlite:////abs/path, sqlite:///rel/path
    if scheme in ("postgresql", "postgres"):
        from assistant.sessions_pg import PostgresSessionStore

        return PostgresSessionStore(url)
    raise ConfigError(f"sessions store {url!r}: give a URL starting {', '.join(s + '://' for s in SESSION_STORE_SCHEMES)}")


def open_session(store: SessionStore, session_id: str | None) -> SessionState:
    """The stored session `session_id`, or a new one under that id (a new id when None)."""
    loaded = store.load(session_id) if session_id else None
    return loaded or (SessionState(session_id=session_id) if session_id else SessionState())


class SqliteSessionStore:
    """`SessionStore` in one SQLite file; safe to share between threads of one process."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._held: dict[str, list[Any]] = {}  # session id -> [its lock, how many hold or wait for it]
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL)")

    def load(self, session_id: str) -> SessionState | None:
        with self._lock:
            row = self._db.execute("SELECT state FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return SessionState.model_validate_json(row[0]) if row else None

    def save(self, state: SessionState) -> None:
        state.updated_at = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO sessions (id, state, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (state.session_id, state.model_dump_json(), state.updated_at),
            )

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def purge_idle(self, before: float) -> int:
        """Delete the sessions last saved before `before` (a time.time()); how many."""
        with self._lock:
            return self._db.execute("DELETE FROM sessions WHERE updated_at < ?", (before,)).rowcount

    @contextmanager
    def held(self, session_id: str) -> Iterator[None]:
        # One lock per session in use, dropped when nobody holds or waits for it, so the
        # table stays as small as the number of sessions busy right now.
        with self._lock:
            entry = self._held.setdefault(session_id, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()
        try:
            yield
        finally:
            entry[0].release()
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._held[session_id]

    def close(self) -> None:
        with self._lock:
            self._db.close()
