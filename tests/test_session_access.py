"""Sessions a shopper owns: issued by the server, bound to the key that made them, ended when
idle. The rules on both real stores (SQLite and PostgreSQL), then over a real server with two
API keys (WebSocket, SSE, the tool API)."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from assistant.server.session_access import SessionGate, SessionRefusal
from assistant.server.settings import ServerSettings
from assistant.sessions import CartLine
from tests.ops_server import running, services_factory, shared_backend

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "test-key-fedcba9876543210"
A, B = "key:aaaa", "key:bbbb"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_ten_thousand_guessed_ids_find_no_session(open_store):
    store = open_store()
    gate = SessionGate(store, idle_s=3600)
    issued = [gate.issue(A).session_id for _ in range(200)]
    assert len(set(issued)) == 200 and all(len(s) == 32 for s in issued)
    guesses = [secrets.token_urlsafe(24) for _ in range(4000)] + [uuid.uuid4().hex for _ in range(4000)]
    guesses += [f"session-{i}" for i in range(1000)] + [str(i) for i in range(1000)]
    refused = [gate.admit(g, A) for g in guesses]
    assert all(isinstance(r, SessionRefusal) and r.code == "session_unknown" for r in refused)
    assert not isinstance(gate.admit(issued[7], A), SessionRefusal)


def test_another_keys_session_is_refused_and_left_unchanged(open_store):
    store = open_store()
    gate = SessionGate(store, idle_s=3600)
    state = gate.issue(A)
    state.cart.append(CartLine(product_id="11", name="Titan Watch"))
    store.save(state)
    refused = gate.admit(state.session_id, B)
    assert isinstance(refused, SessionRefusal) and refused.code == "session_forbidden" and refused.status == 403
    assert isinstance(gate.admit(state.session_id, None), SessionRefusal), "no key is not the owner either"
    again = store.load(state.session_id)
    assert again is not None and again.owner == A and [ln.product_id for ln in again.cart] == ["11"]


def test_idle_sessions_expire_are_deleted_and_purged(open_store):
    store, clock = open_store(), Clock()
    gate = SessionGate(store, idle_s=60, clock=clock)
    fresh, stale, other = gate.issue(A), gate.issue(A), gate.issue(B)  # saved now, by the wall clock
    clock.now += 61
    refused = gate.admit(stale.session_id, B)
    assert isinstance(refused, SessionRefusal) and refused.code == "session_forbidden", "another key cannot even expire it"
    refused = gate.admit(stale.session_id, A)
    assert isinstance(refused, SessionRefusal) and refused.code == "session_expired" and refused.status == 410
    assert store.load(stale.session_id) is None and gate.admit(stale.session_id, A).code == "session_unknown", "deleted, not kept"
    assert gate.purge() == 2 and store.load(fresh.session_id) is None and store.load(other.session_id) is None


def test_a_session_made_without_keys_is_kept_by_the_first_key(open_store):
    store = open_store()
    gate = SessionGate(store, idle_s=3600)
    sid = gate.issue(None).session_id
    assert gate.admit(sid, None).owner is None
    assert gate.admit(sid, A).owner == A
    assert gate.admit(sid, B).code == "session_forbidden"


@pytest.fixture(scope="module")
def backend(tmp_path_factory, kagl_csv):
    return shared_backend(tmp_path_factory.mktemp("sessions"), kagl_csv)


def _recv(ws) -> dict:
    return json.loads(ws.recv(timeout=30))


@pytest.mark.model
def test_a_session_of_key_a_is_refused_to_key_b_everywhere(backend, tmp_path):
    pid = backend.rows[0]["id"]
    with running(services_factory(backend, tmp_path / "s.db"), ServerSettings(api_keys={KEY, OTHER_KEY})) as srv:
        a, b = {"x-api-key": KEY}, {"x-api-key": OTHER_KEY}
        sid = httpx.post(srv.url + "/v1/sessions", headers=a).json()["session_id"]
        r = httpx.post(srv.url + "/v1/tools/add_to_cart", json={"product_id": pid}, headers={**a, "x-session-id": sid})
        assert r.status_code == 200 and r.json()["items"] == 1
        for name, args in (("add_to_cart", {"product_id": backend.rows[1]["id"]}), ("remove_from_cart", {"product_id": pid}), ("view_cart", {})):
            r = httpx.post(srv.url + f"/v1/tools/{name}", json=args, headers={**b, "x-session-id": sid})
            assert r.status_code == 403 and r.json()["code"] == "session_forbidden", (name, r.text)
        with connect(f"ws://{srv.host}/v1/chat?api_key={OTHER_KEY}&session_id={sid}") as ws:
            assert _recv(ws)["code"] == "session_forbidden"
        body = {"id": sid, "messages": [{"role": "user", "parts": [{"type": "text", "text": "remove it"}]}]}
        r = httpx.post(srv.url + "/v1/chat/stream", json=body, headers=b)
        assert r.status_code == 403 and r.json()["code"] == "session_forbidden"
        cart = httpx.post(srv.url + "/v1/tools/view_cart", json={}, headers={**a, "x-session-id": sid}).json()
        assert [ln["product_id"] for ln in cart["lines"]] == [pid], "key B changed nothing"
        with connect(f"ws://{srv.host}/v1/chat?api_key={KEY}&session_id={sid}") as ws:
            created = _recv(ws)
            assert created["type"] == "session.created" and created["resumed"] is True, "its own key resumes it"


@pytest.mark.model
def test_an_idle_session_answers_session_expired_over_the_socket(backend, tmp_path):
    with running(services_factory(backend, tmp_path / "s.db"), ServerSettings(session_idle_s=0.5)) as srv:
        with connect(f"ws://{srv.host}/v1/chat") as ws:
            sid = _recv(ws)["session_id"]
        time.sleep(1.0)
        with connect(f"ws://{srv.host}/v1/chat?session_id={sid}") as ws:
            ev = _recv(ws)
            assert ev["type"] == "error" and ev["code"] == "session_expired"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 4410
        r = httpx.post(srv.url + "/v1/tools/view_cart", json={}, headers={"x-session-id": sid})
        assert r.status_code == 404 and r.json()["code"] == "session_unknown", "deleted, not kept"
