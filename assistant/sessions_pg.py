"""Sessions in PostgreSQL: the `SessionStore` that server replicas share.

Owns `PostgresSessionStore` and its schema migrations. The state is the same JSON as in the
embedded SQLite store (`assistant.sessions`), one row per session, so a shopper's history,
cart and pending confirmation move between replicas with the session id.

One session is used by one turn or one cart call at a time, across every replica: `held`
takes a PostgreSQL advisory lock keyed on the session id (a row lock needs the row, and a new
session has none yet) on a connection kept for the turn, and the session's load and save run
on that connection. Each statement commits at once, so a save that fails (the database
restarting) fails before the answer is sent, never after. A replica that dies mid-turn loses
its connection, PostgreSQL frees its locks, and the session is as last saved. Does not own the state's shape
(`assistant.sessions`) or who may use a session (`assistant.server.session_access`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError, SessionStoreUnavailable
from assistant.sessions import SessionState

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)): one for sessions
# (second key: hashtext of the id; a collision only makes two sessions wait for each other)
# and one for migrations (second key 0), so neither can block the other.
SESSION_LOCKS = 0x5E55
MIGRATION_LOCK = 0x5E56

# Numbered schema changes, applied in order, each once, recorded in schema_migrations. Append
# only: a released migration is never edited (a replica of the next release reads the same
# numbers). JSONB: a shop's analyst can query carts in SQL without this code.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        state JSONB NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL  -- seconds since the epoch, as time.time()
    );
    CREATE INDEX sessions_updated_at ON sessions (updated_at);
    """,
    # 2: what replicas share besides sessions (`assistant.server.shared_state`): token buckets,
    # times in seconds since the epoch by the database's clock; one row per open chat socket.
    """
    CREATE TABLE rate_buckets (
        name TEXT NOT NULL,  -- which limit: client, shared, quota
        client TEXT NOT NULL,
        tokens DOUBLE PRECISION NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        full_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, client)
    );
    CREATE INDEX rate_buckets_full_at ON rate_buckets (full_at);
    CREATE TABLE open_sockets (
        session_id TEXT PRIMARY KEY,
        replica TEXT NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL
    );
    """,
)

POOL_MAX = 32  # connections a process opens at most: turns in flight hold one each
CONNECT_TIMEOUT_S = 5.0  # a database that does not answer fails the turn, not hangs it


class PostgresSessionStore:
    """`SessionStore` in a PostgreSQL database given by a libpq URL (postgresql://user@host/db)."""

    def __init__(self, url: str, pool_max: int = POOL_MAX) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        # `check` tests a pooled connection before lending it, so a database that restarted
        # costs one reconnect, not one failed turn per stale connection.
        self._pool: ConnectionPool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_max,
            kwargs={"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT_S)},
            check=ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT_S,
            open=False,
            name="sessions",
        )
        self._local = threading.local()  # .held: {session id: the connection holding it} of this thread
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - psycopg_pool raises PoolTimeout with the libpq error logged
            self._pool.close()
            raise SessionStoreUnavailable(f"the sessions database at {_redacted(url)} cannot be reached: {e}") from e
        self.migrate()

    # -- the SessionStore interface -------------------------------------------------------

    def load(self, session_id: str) -> SessionState | None:
        with self._connection(session_id) as conn:
            row = conn.execute("SELECT state FROM sessions WHERE id = %s", (session_id,)).fetchone()
        return SessionState.model_validate(row[0]) if row else None

    def save(self, state: SessionState) -> None:
        state.updated_at = time.time()
        with self._connection(state.session_id) as conn:
            conn.execute(
                "INSERT INTO sessions (id, state, updated_at) VALUES (%s, %s::jsonb, %s) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (state.session_id, state.model_dump_json(), state.updated_at),
            )

    def delete(self, session_id: str) -> None:
        with self._connection(session_id) as conn:
            conn.execute("DELETE FROM sessions WHERE id = %s", (session_id,))

    def purge_idle(self, before: float) -> int:
        """Delete the sessions last saved before `before` (a time.time()); how many. A session
        held by a turn right now is not waited for: its save makes it recent again."""
        with self._connection(None) as conn:
            cur = conn.execute("DELETE FROM sessions WHERE updated_at < %s", (before,))
            return cur.rowcount

    @contextmanager
    def held(self, session_id: str) -> Iterator[None]:
        held = self._held_here()
        if session_id in held:  # already held by this thread (a turn calling a tool of its own)
            yield
            return
        with self._connection(None) as conn:
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (SESSION_LOCKS, session_id))
            held[session_id] = conn
            try:
                yield
            finally:
                del held[session_id]
                _unlock(conn, session_id)

    def close(self) -> None:
        self._pool.close()

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema up to date (`migrate_connection`); the version after."""
        with self._pool.connection() as conn:
            return migrate_connection(conn)

    def schema_version(self) -> int:
        with self._connection(None) as conn:
            return _version(conn)

    # -- connections ----------------------------------------------------------------------

    def _held_here(self) -> dict[str, psycopg.Connection[Any]]:
        if not hasattr(self._local, "held"):
            self._local.held = {}
        return self._local.held

    @contextmanager
    def _connection(self, session_id: str | None) -> Iterator[psycopg.Connection[Any]]:
        """The connection holding `session_id` in this thread (its statements join the turn's
        hold), else one from the pool for a single autocommitted statement. The database going
        away under either is `SessionStoreUnavailable`; nothing of the failed statement stays."""
        held = self._held_here().get(session_id) if session_id is not None else None
        import psycopg

        try:
            if held is not None:
                yield held
                return
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, _pool_timeout()) as e:
            raise SessionStoreUnavailable(
                "the conversation store cannot be reached just now; nothing was changed, please try again",
                zh="暂时无法连接会话存储，本轮没有做任何更改，请稍后再试。",
            ) from e


def migrate_connection(conn: psycopg.Connection[Any]) -> int:
    """Apply the migrations this database lacks, under a lock so that replicas starting
    together apply each once; the schema version after. A database from a newer release is
    refused rather than written with an older idea of its tables."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        version = _version(conn)
        if version > len(MIGRATIONS):
            raise ConfigError(
                f"the sessions database is at schema version {version}, newer than this release knows ({len(MIGRATIONS)}): "
                "run the newer release, or give a new database with --sessions"
            )
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute(sql)  # type: ignore[arg-type] - our own constant SQL, no parameters
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
            log.info("sessions database: applied migration %d", number)
    return len(MIGRATIONS)


def _version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate_database(url: str) -> int:
    """`migrate_connection` on a connection of its own (the shared limits, at server start)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S)) as conn:
            return migrate_connection(conn)
    except psycopg.OperationalError as e:
        raise SessionStoreUnavailable(f"the sessions database at {_redacted(url)} cannot be reached: {e}") from e


def _unlock(conn: psycopg.Connection[Any], session_id: str) -> None:
    """Free the session's lock; a connection that cannot say so is closed (the pool drops it
    and PostgreSQL frees the locks of a closed connection), never lent out still holding it."""
    try:
        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (SESSION_LOCKS, session_id))
    except Exception:  # noqa: BLE001 - whatever failed, closing the connection frees the lock
        conn.close()


def _pool_timeout() -> type[Exception]:
    from psycopg_pool import PoolTimeout

    return PoolTimeout


def _redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
