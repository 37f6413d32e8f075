"""Two real server replicas on loopback sharing one PostgreSQL sessions store: a shopper's
conversation moves between them mid-session (resume by id, cart intact), and a sessions
database that goes away gives typed, retryable errors and loses nothing once it is back."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from tests.live_server import recv_until
from tests.ops_server import running, services_factory, shared_backend


@pytest.fixture(scope="module")
def backend(tmp_path_factory, kagl_csv):
    return shared_backend(tmp_path_factory.mktemp("replicas"), kagl_csv)


def turn(ws, text: str) -> list[dict]:
    ws.send(json.dumps({"type": "message", "text": text}))
    return recv_until(ws, "finish")


def said(events: list[dict]) -> str:
    return "".join(e.get("delta", "") for e in events if e["type"] == "text-delta")


@contextmanager
def two_replicas(backend, pg_url):
    with ExitStack() as stack:
        a = stack.enter_context(running(services_factory(backend, pg_url)))
        b = stack.enter_context(running(services_factory(backend, pg_url)))
        yield a, b


@pytest.mark.model
def test_a_conversation_moves_between_replicas_with_its_cart(backend, pg_url):
    with two_replicas(backend, pg_url) as (a, b):
        with connect(f"ws://{a.host}/v1/chat") as ws:
            sid = json.loads(ws.recv(timeout=10))["session_id"]
            shown = next(e for e in turn(ws, "watches for men") if e["type"] == "data-products")["data"]["products"]
            assert "Shall I add" in said(turn(ws, "add the first one to my cart"))
        with connect(f"ws://{b.host}/v1/chat?session_id={sid}") as ws:  # the shopper's next message lands on B
            hello = json.loads(ws.recv(timeout=10))
            assert hello["type"] == "session.created" and hello["resumed"] is True
            events = turn(ws, "yes")  # B knows what A asked
            assert [e["toolName"] for e in events if e["type"] == "tool-input-available"] == ["add_to_cart"]
            assert "1 item" in said(events)
        cart = httpx.post(f"{a.url}/v1/tools/view_cart", json={}, headers={"x-session-id": sid}, timeout=30).json()
        assert [ln["product_id"] for ln in cart["lines"]] == [shown[0]["id"]], "replica A sees the cart B changed"
        with connect(f"ws://{a.host}/v1/chat?session_id={sid}") as ws:
            json.loads(ws.recv(timeout=10))
            events = turn(ws, "what's in my cart?")
            assert shown[0]["name"] in said(events), "and the conversation goes on where it was"


@contextmanager
def database_closed(pg_url: str):
    """The test database refuses connections and drops the ones it has, as while PostgreSQL
    restarts; open again after."""
    db = urlsplit(pg_url).path.lstrip("/")
    admin = pg_url.split("?")[0].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,))
    try:
        yield
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')


@pytest.mark.model
def test_a_database_down_is_a_typed_retryable_error_and_nothing_is_lost(backend, pg_url):
    with running(services_factory(backend, pg_url)) as srv:
        sid = httpx.post(f"{srv.url}/v1/sessions", timeout=30).json()["session_id"]
        with connect(f"ws://{srv.host}/v1/chat?session_id={sid}") as ws:
            json.loads(ws.recv(timeout=10))
            turn(ws, "watches for men")
            turn(ws, "add the first one to my cart")
            assert "1 item" in said(turn(ws, "yes"))
        with connect(f"ws://{srv.host}/v1/chat?session_id={sid}") as open_ws, database_closed(pg_url):
            json.loads(open_ws.recv(timeout=10))
            failed = turn(open_ws, "show me black belts")  # a turn on a socket opened before the database went
            assert [e["code"] for e in failed if e["type"] == "error"] == ["sessions_unavailable"]
            assert failed[-1]["type"] == "finish"
            r = httpx.post(f"{srv.url}/v1/tools/view_cart", json={}, headers={"x-session-id": sid}, timeout=30)
            assert r.status_code == 503 and r.json()["code"] == "sessions_unavailable" and r.json()["retryable"] is True
            with connect(f"ws://{srv.host}/v1/chat?session_id={sid}") as ws:
                refused = json.loads(ws.recv(timeout=30))
                assert refused["type"] == "error" and refused["code"] == "sessions_unavailable" and refused["retryable"] is True
        # Back: the pools reconnect by themselves (a client retries a retryable error), and the
        # session is as it was.
        deadline, r = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            r = httpx.post(f"{srv.url}/v1/tools/view_cart", json={}, headers={"x-session-id": sid}, timeout=30)
            if r.status_code != 503:
                break
            assert r.json()["code"] == "sessions_unavailable"
            time.sleep(1)
        assert r is not None and r.status_code == 200, r.text if r is not None else "no answer"
        cart = r.json()
        assert len(cart["lines"]) == 1
        with connect(f"ws://{srv.host}/v1/chat?session_id={sid}") as ws:
            assert json.loads(ws.recv(timeout=10))["resumed"] is True
            assert cart["lines"][0]["name"] in said(turn(ws, "what's in my cart?"))


@pytest.mark.model
def test_a_replica_killed_mid_turn_leaves_the_session_whole_to_the_other(tmp_path, kagl_csv, pg_url):
    """Two `shop-assistant serve` processes on one PostgreSQL. Replica A is killed (SIGKILL)
    while a turn of the session is in flight, holding the session; the shopper resumes on
    replica B at once: the cart as confirmed, the killed turn not half-saved."""
    import shutil
    import signal

    from assistant.catalogue.loader import load_catalogue
    from assistant.config import Settings
    from assistant.index.edge import EdgeIndex
    from assistant.ingest import ingest_catalogue
    from assistant.runtime import load_encoders
    from benchmarks.serving import server_process
    from tests.kagl_subset import write_subset
    from tests.ops_server import HeldEndpoint

    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=3)
    index = EdgeIndex(tmp_path / "index-a")
    ingest_catalogue(load_catalogue(csv_path), index, "kagl", load_encoders(Settings()), "test", progress=False)
    index.close()
    shutil.copytree(tmp_path / "index-a", tmp_path / "index-b")  # each machine has the catalogue
    held = HeldEndpoint()  # replica A's model: it takes a request and never answers
    env_a = {"SHOP_ASSISTANT_SESSIONS": pg_url, "SHOP_ASSISTANT_LLM": "openai", "SHOP_ASSISTANT_LLM_URL": held.url}
    env_a["SHOP_ASSISTANT_LLM_POLICY"] = "planner"  # the model words the answer after the cards: the turn waits there
    env_b = {"SHOP_ASSISTANT_SESSIONS": pg_url, "SHOP_ASSISTANT_LLM": "none"}
    try:
        with (
            server_process(tmp_path / "a.log", tmp_path / "index-a", env_a) as (a, process_a),
            server_process(tmp_path / "b.log", tmp_path / "index-b", env_b) as (b, _),
        ):
            with connect(f"ws://{b}/v1/chat") as ws:
                sid = json.loads(ws.recv(timeout=30))["session_id"]
                turn(ws, "watches for men")
                turn(ws, "add the first one to my cart")
                assert "1 item" in said(turn(ws, "yes"))
            with connect(f"ws://{a}/v1/chat?session_id={sid}") as ws_a:
                assert json.loads(ws_a.recv(timeout=30))["resumed"] is True
                ws_a.send(json.dumps({"type": "message", "text": "black belts for men"}))
                assert recv_until(ws_a, "data-products"), "the turn is under way"
                held.wait_for_request()  # ... and now waits on its model, holding the session
                process_a.send_signal(signal.SIGKILL)
                process_a.wait(timeout=30)
            with connect(f"ws://{b}/v1/chat?session_id={sid}") as ws:  # no wait for A's socket lease to run out
                hello = json.loads(ws.recv(timeout=30))
                assert hello["type"] == "session.created" and hello["resumed"] is True, hello
                assert "1 x" in said(turn(ws, "what's in my cart?")), "the confirmed cart is intact"
                first = said(turn(ws, "tell me more about the first one")).lower()
                assert "watch" in first and "belt" not in first, "the killed turn's search was never saved: the watches are still shown"
    finally:
        held.release()
