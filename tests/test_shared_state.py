"""Rate limits and the one-socket-per-session rule shared by replicas in PostgreSQL: the
buckets' arithmetic and leases on the real database with two replicas' worth of state, then
two real servers on loopback sharing them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from assistant.server.settings import RateLimit, ServerSettings
from assistant.server.shared_state import SharedState
from tests.ops_server import running, services_factory, shared_backend


def on_two_replicas(pg_url: str, body: Callable[[SharedState, SharedState], Awaitable[None]]) -> None:
    """Run `body` with two replicas' shared state on one database; both closed after (a
    second close is a no-op, so a body may close one itself)."""

    async def run() -> None:
        a, b = SharedState(pg_url, pool_max=4), SharedState(pg_url, pool_max=4)
        await a.start()
        await b.start()
        try:
            await body(a, b)
        finally:
            for replica in (a, b):
                with contextlib.suppress(Exception):
                    await replica.close()

    asyncio.run(run())


def test_a_bucket_is_one_bucket_across_replicas(pg_url):
    async def body(a: SharedState, b: SharedState) -> None:
        on_a, on_b = a.buckets("client", 60, 3), b.buckets("client", 60, 3)  # one token a second, 3 saved up
        assert [await on_a.take("shopper-1"), await on_b.take("shopper-1"), await on_a.take("shopper-1")] == [0.0, 0.0, 0.0]
        wait = await on_b.take("shopper-1")
        assert 0.5 < wait <= 1.0, "the bucket both replicas spent from is empty: about a second to the next token"
        assert await on_b.take("shopper-2") == 0.0, "buckets are per client"
        assert await on_a.take("shopper-1", cost=1.0) > 0, "A sees what B saw"
        await on_b.refund("shopper-1")
        assert await on_a.take("shopper-1") == 0.0, "a refund on one replica is a token on the other"
        assert await a.buckets("quota", 0, 1).take("k") == 0.0, "0 a minute: no limit"

    on_two_replicas(pg_url, body)


def test_full_buckets_are_forgotten_and_empty_ones_kept(pg_url):
    async def body(a: SharedState, _b: SharedState) -> None:
        fast, slow = a.buckets("client", 6000, 1), a.buckets("quota", 1, 1)  # refills in 10 ms / in a minute
        await fast.take("x")
        await slow.take("y")
        await asyncio.sleep(0.05)
        async with a.pool.connection() as conn:
            await conn.execute("DELETE FROM rate_buckets WHERE full_at < extract(epoch FROM clock_timestamp())")  # the sweep's statement
            rows = await (await conn.execute("SELECT name, client FROM rate_buckets ORDER BY name")).fetchall()
        assert rows == [("quota", "y")], "a refilled bucket is gone; one still refilling stays"
        assert await slow.take("y") > 0

    on_two_replicas(pg_url, body)


def test_a_session_has_one_socket_across_replicas(pg_url):
    async def body(a: SharedState, b: SharedState) -> None:
        assert await a.leases.claim("s1") is True
        assert await b.leases.claim("s1") is False, "open on replica A"
        assert await a.leases.claim("s1") is False, "and a second socket on A is refused too"
        await a.leases.release("s1")
        assert await b.leases.claim("s1") is True
        async with a.pool.connection() as conn:  # replica B dies: it renews nothing, its lease runs out
            await conn.execute("UPDATE open_sockets SET lease_until = 0 WHERE session_id = 's1'")
        assert await a.leases.claim("s1") is True, "an expired lease frees the session"

    on_two_replicas(pg_url, body)


def test_a_killed_replica_frees_its_sessions_at_once(pg_url):
    async def body(a: SharedState, b: SharedState) -> None:
        assert await b.leases.claim("s3")
        assert await a.leases.claim("s3") is False
        # What PostgreSQL sees of a replica killed with SIGKILL: its connections end (no
        # clean close ran, so its lease row is still there, fresh for LEASE_S).
        await b._alive.close()
        await b.pool.close()
        assert await a.leases.claim("s3") is True, "the lease of a replica that is gone does not wait for its expiry"

    on_two_replicas(pg_url, body)


def test_closing_a_replica_lets_its_sockets_go(pg_url):
    async def body(a: SharedState, b: SharedState) -> None:
        assert await a.leases.claim("s2")
        await a.close()
        assert await b.leases.claim("s2")

    on_two_replicas(pg_url, body)


@pytest.fixture(scope="module")
def backend(tmp_path_factory, kagl_csv):
    return shared_backend(tmp_path_factory.mktemp("shared"), kagl_csv)


@pytest.mark.model
def test_two_servers_share_limits_and_the_socket_rule(backend, pg_url):
    settings = ServerSettings(shared_state=pg_url, rate_limit=RateLimit(per_minute=6, burst=4))
    with ExitStack() as stack:
        a = stack.enter_context(running(services_factory(backend, pg_url), settings))
        b = stack.enter_context(running(services_factory(backend, pg_url), settings))
        codes = [httpx.get(f"{srv.url}/v1/tools", timeout=30).status_code for srv in (a, b, a, b, a, b)]
        assert codes[:4] == [200] * 4 and codes[4:] == [429, 429], "four requests in all, spread over both replicas"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM rate_buckets")  # a fresh minute, without waiting for it
        sid = httpx.post(f"{a.url}/v1/sessions", timeout=30).json()["session_id"]
        with connect(f"ws://{a.host}/v1/chat?session_id={sid}") as first:
            assert json.loads(first.recv(timeout=10))["type"] == "session.created"
            with connect(f"ws://{b.host}/v1/chat?session_id={sid}") as second:
                refused = json.loads(second.recv(timeout=10))
                assert refused["type"] == "error" and refused["code"] == "session_busy", "open on replica A"
        with connect(f"ws://{b.host}/v1/chat?session_id={sid}") as again:  # A's socket closed: B may have it
            assert json.loads(again.recv(timeout=10))["type"] == "session.created"
