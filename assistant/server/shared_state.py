"""What server replicas must agree on besides sessions: rate-limit buckets and which session
has a socket open. In process for one server; in PostgreSQL (the sessions database) for
replicas.

    Buckets          a token bucket per client: `take` (0.0, or seconds to wait), `refund`
    ├── LocalBuckets     `ratelimit.RateLimiter` in this process
    └── PgBuckets        one row per (limit, client); the refill-and-spend is one statement,
                         timed by the database's clock, so replicas' clocks do not matter
    SocketLeases     one open socket per session: `claim`, `release`
    ├── LocalLeases      a set in this process
    └── PgLeases         one row per open socket with a lease its replica renews; a replica that
                         dies frees its sessions at once (its liveness lock goes with its
                         connection), and one that hangs after LEASE_S
    SharedState      the PostgreSQL pair over one async pool, with the task that renews
                     leases and forgets full buckets

PostgreSQL rather than Redis: the replicas already need it for sessions, and one service is
less to run and to lose; a bucket check is one indexed upsert (about a millisecond on
loopback). Does not own who a client is (`access`) or what a refusal looks like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from assistant.errors import SessionStoreUnavailable
from assistant.server.ratelimit import RateLimiter

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

REPLICA_LOCKS = 0x5E57  # advisory lock class: each replica holds (class, hashtext(its id)) while it lives
LEASE_S = 45.0  # a socket's claim lasts this long unless renewed (three renewals' worth)
RENEW_S = 15.0  # how often a replica renews its sockets' leases and sweeps full buckets
MIN_WAIT_S = 0.001  # the wait a refusal reports at least
POOL_MAX = 16  # connections for the limits: each request's check holds one for a statement


class Buckets(Protocol):
    @property
    def enabled(self) -> bool: ...

    async def take(self, client: str, cost: float = 1.0) -> float: ...

    async def refund(self, client: str, cost: float = 1.0) -> None: ...


class SocketLeases(Protocol):
    async def claim(self, session_id: str) -> bool:
        """True when no other socket (on any replica) has the session open; it is then this one's."""
        ...

    async def release(self, session_id: str) -> None: ...


class LocalBuckets:
    """`Buckets` of one process."""

    def __init__(self, per_minute: float, burst: float) -> None:
        self.limiter = RateLimiter(per_minute, burst)

    @property
    def enabled(self) -> bool:
        return self.limiter.enabled

    async def take(self, client: str, cost: float = 1.0) -> float:
        return self.limiter.take(client, cost)

    async def refund(self, client: str, cost: float = 1.0) -> None:
        self.limiter.refund(client, cost)


class LocalLeases:
    """`SocketLeases` of one process."""

    def __init__(self) -> None:
        self.open: set[str] = set()

    async def claim(self, session_id: str) -> bool:
        if session_id in self.open:
            return False
        self.open.add(session_id)
        return True

    async def release(self, session_id: str) -> None:
        self.open.discard(session_id)


# Refill to now, then spend `cost` if the bucket holds it. A new client starts full. The row
# is locked by the upsert, so two replicas spending from one bucket at once take turns.
# `full_at`: when the bucket will be full again; after that its row equals no row (the sweep).
_TAKE = """
INSERT INTO rate_buckets AS b (name, client, tokens, at, full_at)
SELECT %(name)s, %(client)s, %(burst)s - %(cost)s, now.t, now.t + %(cost)s / %(rate)s
FROM (SELECT extract(epoch FROM clock_timestamp()) AS t) AS now
WHERE %(burst)s >= %(cost)s
ON CONFLICT (name, client) DO UPDATE
    SET tokens = least(%(burst)s, b.tokens + (excluded.at - b.at) * %(rate)s) - %(cost)s,
        at = excluded.at,
        full_at = excluded.at + (%(burst)s - least(%(burst)s, b.tokens + (excluded.at - b.at) * %(rate)s) + %(cost)s) / %(rate)s
    WHERE least(%(burst)s, b.tokens + (excluded.at - b.at) * %(rate)s) >= %(cost)s
RETURNING tokens
"""
_LEFT = """
SELECT least(%(burst)s, tokens + (extract(epoch FROM clock_timestamp()) - at) * %(rate)s)
FROM rate_buckets WHERE name = %(name)s AND client = %(client)s
"""
_REFUND = """
UPDATE rate_buckets SET tokens = least(%(burst)s, tokens + %(cost)s), full_at = full_at - %(cost)s / %(rate)s
WHERE name = %(name)s AND client = %(client)s
"""


class PgBuckets:
    """`Buckets` in PostgreSQL under `name` ("client", "shared", "quota"): `per_minute` tokens a
    minute per client, at most `burst`; 0 a minute: no limit."""

    def __init__(self, pool: AsyncConnectionPool, name: str, per_minute: float, burst: float) -> None:
        self.pool = pool
        self.name = name
        self.rate = per_minute / 60.0
        self.burst = float(burst)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def take(self, client: str, cost: float = 1.0) -> float:
        if not self.enabled:
            return 0.0
        args = {"name": self.name, "client": client, "cost": cost, "burst": self.burst, "rate": self.rate}
        async with _connection(self.pool) as conn:
            if await (await conn.execute(_TAKE, args)).fetchone() is not None:
                return 0.0
            row = await (await conn.execute(_LEFT, args)).fetchone()
        left = float(row[0]) if row else 0.0  # refused: what the bucket holds now
        # Never 0.0 (that means "allowed"): another replica may have spent between the two statements.
        return max((cost - left) / self.rate, MIN_WAIT_S)

    async def refund(self, client: str, cost: float = 1.0) -> None:
        if self.enabled:
            async with _connection(self.pool) as conn:
                await conn.execute(_REFUND, {"name": self.name, "client": client, "cost": cost, "burst": self.burst, "rate": self.rate})


class PgLeases:
    """`SocketLeases` in PostgreSQL; `replica` names this process's claims."""

    def __init__(self, pool: AsyncConnectionPool, replica: str) -> None:
        self.pool = pool
        self.replica = replica
        self.held: set[str] = set()  # sessions this replica has a socket open on

    async def claim(self, session_id: str) -> bool:
        async with _connection(self.pool) as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO open_sockets AS o (session_id, replica, lease_until) "
                    "VALUES (%(sid)s, %(replica)s, extract(epoch FROM clock_timestamp()) + %(lease)s) "
                    "ON CONFLICT (session_id) DO UPDATE SET replica = excluded.replica, lease_until = excluded.lease_until "
                    # A lease its replica stopped renewing, or whose replica is gone (its liveness
                    # lock went with its connection: a killed replica frees its sessions at once).
                    "WHERE o.lease_until < extract(epoch FROM clock_timestamp()) OR NOT EXISTS ("
                    "  SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = ("
                    "    SELECT oid FROM pg_database WHERE datname = current_database())"
                    "  AND classid = %(lock_class)s AND objid = (hashtext(o.replica)::bigint & 4294967295)::oid AND objsubid = 2) "
                    "RETURNING session_id",
                    {"sid": session_id, "replica": self.replica, "lease": LEASE_S, "lock_class": REPLICA_LOCKS},
                )
            ).fetchone()
        if row is not None:
            self.held.add(session_id)
        return row is not None

    async def release(self, session_id: str) -> None:
        self.held.discard(session_id)
        async with _connection(self.pool) as conn:
            await conn.execute("DELETE FROM open_sockets WHERE session_id = %s AND replica = %s", (session_id, self.replica))

    async def renew(self) -> None:
        if self.held:
            async with _connection(self.pool) as conn:
                await conn.execute(
                    "UPDATE open_sockets SET lease_until = extract(epoch FROM clock_timestamp()) + %s WHERE replica = %s AND session_id = ANY(%s)",
                    (LEASE_S, self.replica, list(self.held)),
                )


class SharedState:
    """The replicas' shared limits and socket leases in the PostgreSQL database at `url`.
    `start` on the server's event loop (it migrates the schema and opens the pool), `close` at
    shutdown (this replica's leases are let go at once)."""

    def __init__(self, url: str, pool_max: int = POOL_MAX) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.url = url
        self.replica = uuid.uuid4().hex[:12]
        self.pool = AsyncConnectionPool(url, min_size=1, max_size=pool_max, kwargs={"autocommit": True}, open=False, name="shared-limits")
        self.leases = PgLeases(self.pool, self.replica)
        self._sweeper: asyncio.Task[None] | None = None
        self._alive: Any = None  # the connection holding this replica's liveness lock

    def buckets(self, name: str, per_minute: float, burst: float) -> PgBuckets:
        return PgBuckets(self.pool, name, per_minute, burst)

    async def start(self) -> None:
        from assistant.sessions_pg import migrate_database

        await asyncio.to_thread(migrate_database, self.url)  # the tables; a no-op when the sessions store made them
        await self.pool.open(wait=True, timeout=10.0)
        await self._hold_liveness()
        self._sweeper = asyncio.create_task(self._sweep())

    async def _hold_liveness(self) -> None:
        """A connection of its own holding this replica's advisory lock for as long as the
        replica lives: PostgreSQL frees it when the process dies, which frees its sockets' leases."""
        import psycopg

        if self._alive is not None and not self._alive.closed:
            return
        self._alive = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        await self._alive.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (REPLICA_LOCKS, self.replica))

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        with contextlib.suppress(Exception):  # leases left behind expire by themselves after LEASE_S
            async with self.pool.connection() as conn:
                await conn.execute("DELETE FROM open_sockets WHERE replica = %s", (self.replica,))
        await self.pool.close()
        if self._alive is not None:
            await self._alive.close()

    async def _sweep(self) -> None:
        """Renew this replica's leases; forget buckets that have refilled (a full bucket is the
        same as none) and leases nobody renewed."""
        while True:
            await asyncio.sleep(RENEW_S)
            try:
                await self._hold_liveness()  # again after the database restarted
                await self.leases.renew()
                async with self.pool.connection() as conn:
                    await conn.execute("DELETE FROM open_sockets WHERE lease_until < extract(epoch FROM clock_timestamp())")
                    await conn.execute("DELETE FROM rate_buckets WHERE full_at < extract(epoch FROM clock_timestamp())")
            except Exception as e:  # noqa: BLE001 - the database restarting: the next round tries again
                log.warning("shared limits: sweep failed (%s); retrying in %g s", type(e).__name__, RENEW_S)


@contextlib.asynccontextmanager
async def _connection(pool: AsyncConnectionPool):  # type: ignore[no-untyped-def]
    """A pooled connection; the database being unreachable is `SessionStoreUnavailable`."""
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        async with pool.connection(timeout=5.0) as conn:
            yield conn
    except (psycopg.OperationalError, PoolTimeout) as e:
        raise SessionStoreUnavailable("the shared limits database cannot be reached just now; please try again") from e
