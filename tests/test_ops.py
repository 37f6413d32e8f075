"""Operations: API keys, rate limits, CORS, size limits, request ids, metrics, graceful shutdown.

Servers are real (uvicorn under `DrainingServer`, the server `shop-assistant serve` runs, on
a loopback port) over one small real index; clients are httpx and the `websockets` client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from assistant.errors import ConfigError
from assistant.server.metrics import Metrics
from assistant.server.ratelimit import RateLimiter
from assistant.server.request_ids import RedactingFormatter
from assistant.server.settings import ServerSettings, is_loopback
from assistant.sessions import SqliteSessionStore
from tests.ops_server import language_model_on_hold, running, services_factory, shared_backend

model = pytest.mark.model
KEY = "test-key-0123456789abcdef"
OTHER_KEY = "test-key-fedcba9876543210"


@pytest.fixture(scope="module")
def backend(tmp_path_factory, kagl_csv):
    return shared_backend(tmp_path_factory.mktemp("ops-backend"), kagl_csv)


def recv(ws) -> dict:
    """The next event that is not a heartbeat."""
    while (ev := json.loads(ws.recv(timeout=60)))["type"] == "heartbeat":
        pass
    return ev


def recv_until(ws, *kinds: str) -> list[dict]:
    out = []
    while True:
        out.append(recv(ws))
        if out[-1]["type"] in kinds:
            return out


def closed_with(ws) -> int | None:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=60)
    return ws.close_code


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


# -- settings and pure parts ---------------------------------------------------------------


def test_the_exposure_rule_keys_optional_only_on_loopback(tmp_path):
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        ServerSettings(host=host).check_exposure()
    for host in ("0.0.0.0", "::", "192.168.1.10", "shop.example"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="without API keys"):
            ServerSettings(host=host).check_exposure()
        ServerSettings(host=host, api_keys={KEY}).check_exposure()
        ServerSettings(host=host, insecure_no_auth=True).check_exposure()
    keys = tmp_path / "keys"
    keys.write_text(f"# the shop's widget\n{KEY}\n\n{OTHER_KEY}  # an agent\n")
    env = {
        "SHOP_ASSISTANT_API_KEYS": f" {KEY} ,",
        "SHOP_ASSISTANT_RATE_LIMIT": "30",
        "SHOP_ASSISTANT_CORS_ORIGINS": "https://a.example, https://b.example",
    }
    s = ServerSettings.from_env(env, key_file=keys)
    assert s.api_keys == {KEY, OTHER_KEY} and s.rate_limit.per_minute == 30 and s.cors_origins == ["https://a.example", "https://b.example"]
    assert KEY not in repr(s), "keys stay out of reprs (and so out of logs)"
    with pytest.raises(ConfigError, match="at least 16"):
        ServerSettings.from_env({"SHOP_ASSISTANT_API_KEYS": "secret"})
    with pytest.raises(ConfigError, match="SHOP_ASSISTANT_PORT"):
        ServerSettings.from_env({"SHOP_ASSISTANT_PORT": "eighty"})


def test_serve_refuses_a_public_address_without_keys_before_loading_anything():
    args = [sys.executable, "-m", "assistant.cli", "serve", "--host", "0.0.0.0", "--port", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 2 and "without API keys" in done.stderr and "--insecure-no-auth" in done.stderr, done.stderr


def test_token_buckets_refill_at_the_rate_and_save_up_to_the_burst():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(1.0), "one token a second: the next in 1 s"
    assert limiter.take("b") == 0.0, "buckets are per client"
    now[0] = 1.5
    assert limiter.take("a") == 0.0 and limiter.take("a") == pytest.approx(0.5)
    now[0] = 100.0
    assert [limiter.take("a") for _ in range(4)][-1] > 0, "idle time saves at most `burst` tokens"
    assert RateLimiter(per_minute=0, burst=1).take("a") == 0.0, "0 a minute: no limit"


def test_metrics_registries_belong_to_their_app_and_stages_are_named():
    a, b = Metrics(), Metrics()  # a global registry would refuse the second
    a.observe_stage("transcribe", 0.4)
    a.count_turn("ws", "ok")
    assert b"shop_assistant_turns_total" in a.exposition()
    assert 'stage="transcribe"' in a.exposition().decode() and 'stage="transcribe"' not in b.exposition().decode()
    with pytest.raises(ValueError, match="tts_first_audio"):
        a.observe_stage("speak", 1.0)


def test_log_lines_hide_keys_passed_in_a_websocket_url():
    args = ("127.0.0.1:5", f"/v1/chat?api_key={KEY}&x=1")
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]', args, None)
    line = RedactingFormatter("%(request_id)s %(message)s").format(record)
    assert KEY not in line and "api_key=***&x=1" in line


# -- keys, limits, CORS, sizes, request ids over real sockets -------------------------------


@model
def test_api_keys_are_required_everywhere_but_health_docs_and_the_widget(backend, tmp_path):
    with running(services_factory(backend, tmp_path / "s.db"), ServerSettings(api_keys={KEY, OTHER_KEY})) as srv:
        for path in ("/healthz", "/readyz", "/openapi.json", "/v1/protocol", "/", "/widget.js"):
            assert httpx.get(srv.url + path).status_code == 200, path
        r = httpx.get(srv.url + "/v1/tools")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized" and r.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(srv.url + "/v1/tools", headers={"authorization": "Bearer wrong-key-0000000000"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "the API key is not valid"
        assert httpx.get(srv.url + f"/v1/tools?api_key={KEY}").status_code == 401, "a query-string key is for WebSockets only"
        assert httpx.get(srv.url + "/v1/tools", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
        assert httpx.get(srv.url + "/v1/tools", headers={"x-api-key": OTHER_KEY}).status_code == 200
        assert httpx.get(srv.url + "/metrics").status_code == 401
        body = {"id": "k-1", "messages": [{"role": "user", "parts": [{"type": "text", "text": "black watches"}]}]}
        assert httpx.post(srv.url + "/v1/chat/stream", json=body).status_code == 401
        assert httpx.post(srv.url + "/mcp", json={}).status_code == 401
        spec = httpx.get(srv.url + "/openapi.json").json()
        assert "401" in spec["paths"]["/v1/tools/{name}"]["post"]["responses"] and "bearer" in spec["components"]["securitySchemes"]

        for url in (f"ws://{srv.host}/v1/chat", f"ws://{srv.host}/v1/chat?api_key=wrong-key-0000000000"):
            with connect(url) as ws:
                ev = recv(ws)
                assert ev["type"] == "error" and ev["code"] == "unauthorized" and not ev["retryable"]
                assert closed_with(ws) == 4401
        with connect(f"ws://{srv.host}/v1/chat?api_key={KEY}") as ws:
            assert recv(ws)["type"] == "session.created"
        with connect(f"ws://{srv.host}/v1/chat", additional_headers={"x-api-key": KEY}) as ws:
            assert recv(ws)["type"] == "session.created"
        assert httpx.get(srv.url + "/readyz").json()["status"] == "ready", "refusals leave the server healthy"


@model
def test_without_keys_on_loopback_everything_is_open(backend, tmp_path):
    with running(services_factory(backend, tmp_path / "s.db")) as srv:
        assert httpx.get(srv.url + "/v1/tools").status_code == 200
        assert httpx.get(srv.url + "/metrics").status_code == 200
        with connect(f"ws://{srv.host}/v1/chat") as ws:
            assert recv(ws)["type"] == "session.created"


@model
def test_rate_limits_per_key_429_with_retry_after_and_rate_limited_events(backend, tmp_path):
    # One token a minute and a burst of 3: nothing refills during the test, however slow the machine.
    settings = ServerSettings(api_keys={KEY, OTHER_KEY}, rate_limit={"per_minute": 1, "burst": 3})
    with running(services_factory(backend, tmp_path / "s.db"), settings) as srv:
        key = {"x-api-key": KEY}
        assert [httpx.get(srv.url + "/v1/tools", headers=key).status_code for _ in range(3)] == [200] * 3
        r = httpx.get(srv.url + "/v1/tools", headers=key)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited" and r.json()["retryable"] is True
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert httpx.get(srv.url + "/healthz").status_code == 200, "health is never limited"
        assert httpx.get(srv.url + "/v1/tools", headers={"x-api-key": "wrong-key-0000000000"}).status_code == 401

        # The other key has its own bucket: a connection and two turns spend it; the third turn is refused.
        with connect(f"ws://{srv.host}/v1/chat?api_key={OTHER_KEY}") as ws:
            assert recv(ws)["type"] == "session.created"
            for _ in range(2):
                ws.send(json.dumps({"type": "message", "text": "black watches"}))
                assert recv_until(ws, "finish")[-1]["type"] == "finish"
            ws.send(json.dumps({"type": "message", "text": "black watches"}))
            ev = recv(ws)
            assert ev["type"] == "error" and ev["code"] == "rate_limited" and ev["retryable"] is True
            ws.send(json.dumps({"type": "ping"}))
            assert recv(ws)["type"] == "pong", "the socket stays open"
        with connect(f"ws://{srv.host}/v1/chat?api_key={OTHER_KEY}") as ws:
            ev = recv(ws)
            assert ev["code"] == "rate_limited" and ev["retryable"] is True
            assert closed_with(ws) == 4429
        assert httpx.get(srv.url + "/readyz").json()["status"] == "ready"


@model
def test_behind_a_trusted_proxy_each_shopper_has_a_bucket_and_others_cannot_forge_one(backend, tmp_path):
    limit = {"per_minute": 1, "burst": 2}

    def spent(srv, forwarded: str, key: str = KEY) -> list[int]:
        headers = {"x-api-key": key, "x-forwarded-for": forwarded}
        return [httpx.get(srv.url + "/v1/tools", headers=headers).status_code for _ in range(3)]

    # The test client is the proxy: it connects from loopback and says whom it forwards.
    trusted = ServerSettings(api_keys={KEY, OTHER_KEY}, rate_limit=limit, trusted_proxies=["127.0.0.1"])
    with running(services_factory(backend, tmp_path / "s.db"), trusted) as srv:
        assert spent(srv, "203.0.113.1") == [200, 200, 429]
        assert spent(srv, "203.0.113.2") == [200, 200, 429], "another shopper behind the proxy: their own bucket"
        assert spent(srv, "198.51.100.9, 203.0.113.1")[0] == 429, "a client-written left part of the chain is not believed"
        with connect(f"ws://{srv.host}/v1/chat?api_key={KEY}", additional_headers={"x-forwarded-for": "203.0.113.3"}) as ws:
            assert recv(ws)["type"] == "session.created", "sockets count by the forwarded address too"
    # The same headers from a peer that is not a configured proxy: ignored, one bucket.
    untrusted = ServerSettings(api_keys={KEY}, rate_limit=limit, trusted_proxies=["10.0.0.1"])
    with running(services_factory(backend, tmp_path / "s2.db"), untrusted) as srv:
        assert spent(srv, "203.0.113.1") == [200, 200, 429]
        assert spent(srv, "203.0.113.2") == [429] * 3, "a forged X-Forwarded-For buys no new bucket"
    # A quota per key, on top: its shoppers together get no more than it.
    quota = ServerSettings(api_keys={KEY, OTHER_KEY}, rate_limit=limit, key_quota={"per_minute": 1, "burst": 3}, trusted_proxies=["127.0.0.1"])
    with running(services_factory(backend, tmp_path / "s3.db"), quota) as srv:
        assert spent(srv, "203.0.113.1")[:2] == [200, 200]
        r = httpx.get(srv.url + "/v1/tools", headers={"x-api-key": KEY, "x-forwarded-for": "203.0.113.2"})
        assert r.status_code == 200
        r = httpx.get(srv.url + "/v1/tools", headers={"x-api-key": KEY, "x-forwarded-for": "203.0.113.4"})
        assert r.status_code == 429 and r.json()["code"] == "rate_limited", "the key's quota is spent"
        assert spent(srv, "203.0.113.5", OTHER_KEY)[:2] == [200, 200], "another key's quota is its own"


@model
def test_shoppers_behind_one_address_get_their_own_buckets_with_shopper_tokens(backend, tmp_path):
    # Per client 3 at once, nothing refilled during the test; the address's shoppers together: 2 clients' worth.
    settings = ServerSettings(api_keys={KEY, OTHER_KEY}, rate_limit={"per_minute": 1, "burst": 3}, address_share=2)
    with running(services_factory(backend, tmp_path / "s.db"), settings) as srv:
        key = {"x-api-key": KEY}
        made = [httpx.post(srv.url + "/v1/shopper-token", headers=key) for _ in range(3)]
        assert [m.status_code for m in made] == [201] * 3 and made[0].json()["expires_in_s"] > 0
        ann, bob, cat = (m.json()["token"] for m in made)
        assert httpx.post(srv.url + "/v1/shopper-token", headers=key).status_code == 429, "minting spends the address's own bucket"

        def spent(token: str, n: int) -> list[int]:
            return [httpx.get(srv.url + "/v1/tools", headers={**key, "x-shopper-token": token}).status_code for _ in range(n)]

        assert spent(ann, 4) == [200, 200, 200, 429], "Ann's own bucket"
        assert spent(bob, 3) == [200] * 3, "another shopper at the same address is not held back by Ann"
        assert spent(cat, 1) == [429], "but the address's shoppers together get no more than its shared bucket"
        # Forged, garbled, or another key's tokens are refused, with a code the widget acts on.
        for bad, headers in ((ann[:-2] + "xx", key), ("garbage", key), (ann, {"x-api-key": OTHER_KEY})):
            r = httpx.get(srv.url + "/v1/tools", headers={**headers, "x-shopper-token": bad})
            assert r.status_code == 401 and r.json()["code"] == "shopper_token_invalid", r.text
        with connect(f"ws://{srv.host}/v1/chat?api_key={OTHER_KEY}&shopper_token=garbage") as ws:
            assert recv(ws)["code"] == "shopper_token_invalid" and closed_with(ws) == 4401


def test_a_shopper_token_expires_and_names_its_key():
    from assistant.server.shopper_tokens import ShopperTokenInvalid, ShopperTokens

    now = [1000.0]
    tokens = ShopperTokens(b"s" * 32, ttl_s=60, clock=lambda: now[0])
    token = tokens.mint("key:a")
    assert tokens.read(token, "key:a").id == tokens.read(token, "key:a").id
    assert tokens.read(tokens.mint("key:a"), "key:a").id != tokens.read(token, "key:a").id, "each token names a new shopper"
    with pytest.raises(ShopperTokenInvalid, match="another API key"):
        tokens.read(token, "key:b")
    with pytest.raises(ShopperTokenInvalid, match="not one this server made"):
        ShopperTokens(b"t" * 32).read(token, "key:a")
    now[0] += 61
    with pytest.raises(ShopperTokenInvalid, match="expired"):
        tokens.read(token, "key:a")


def test_trusted_proxies_are_addresses_or_networks():
    assert ServerSettings(trusted_proxies=["10.0.0.0/8", " ::1 "]).trusted_proxies == ["10.0.0.0/8", "::1"]
    with pytest.raises(ConfigError, match="trusted proxy"):
        ServerSettings.from_env({"SHOP_ASSISTANT_TRUSTED_PROXIES": "10.0.0.1,proxy.example"})


@model
def test_browser_pages_on_other_sites_cannot_open_a_socket_unless_listed(backend, tmp_path):
    # CORS does not cover WebSockets: without this, any site a shopper visits could use a
    # server on their own machine (no keys on loopback).
    settings = ServerSettings(cors_origins=["https://shop.example"])
    with running(services_factory(backend, tmp_path / "s.db"), settings) as srv:
        with connect(f"ws://{srv.host}/v1/chat", additional_headers={"origin": "https://evil.example"}) as ws:
            ev = recv(ws)
            assert ev["code"] == "forbidden_origin" and "evil.example" in ev["errorText"]
            assert closed_with(ws) == 4403
        for origin in ("https://shop.example", f"http://{srv.host}", None):  # listed, the server's own page, not a browser
            headers = {"origin": origin} if origin else {}
            with connect(f"ws://{srv.host}/v1/chat", additional_headers=headers) as ws:
                assert recv(ws)["type"] == "session.created", origin


@model
def test_cors_preflights_and_refusals_readable_by_the_allowed_origin(backend, tmp_path):
    settings = ServerSettings(api_keys={KEY}, cors_origins=["https://shop.example"])
    with running(services_factory(backend, tmp_path / "s.db"), settings) as srv:
        preflight = {
            "origin": "https://shop.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        }
        r = httpx.options(srv.url + "/v1/chat/stream", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
        assert {"authorization", "content-type"} <= {h.strip() for h in r.headers["access-control-allow-headers"].lower().split(",")}
        r = httpx.options(srv.url + "/v1/chat/stream", headers={**preflight, "origin": "https://evil.example"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = httpx.get(srv.url + "/v1/tools", headers={"origin": "https://shop.example"})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "https://shop.example", "the page can read why"
        assert "x-request-id" in r.headers["access-control-expose-headers"] and "retry-after" in r.headers["access-control-expose-headers"]


@model
def test_size_limits_413_for_bodies_and_an_error_event_for_frames(backend, tmp_path):
    settings = ServerSettings(max_body_bytes=64 * 1024, max_frame_bytes=64 * 1024)  # uvicorn's hard frame cap: 128 KiB
    with running(services_factory(backend, tmp_path / "s.db"), settings) as srv:
        big = {"id": "big", "messages": [{"role": "user", "parts": [{"type": "text", "text": "x" * 100_000}]}]}
        r = httpx.post(srv.url + "/v1/chat/stream", json=big)
        assert r.status_code == 413 and r.json()["code"] == "too_large"
        chunked = httpx.post(srv.url + "/v1/tools/search_products", content=iter([b'{"query": "', b"x" * 100_000, b'"}']))
        assert chunked.status_code == 413 and chunked.json()["code"] == "too_large", "a body without a length is counted as it comes"
        with connect(f"ws://{srv.host}/v1/chat", max_size=None) as ws:
            recv(ws)
            ws.send(json.dumps({"type": "message", "text": "x" * 100_000}))
            ev = recv(ws)
            assert ev["type"] == "error" and ev["code"] == "frame_too_large"
            ws.send(b"\0" * 100_000)
            assert recv(ws)["code"] == "frame_too_large"
            ws.send(json.dumps({"type": "message", "text": "x" * 3000}))
            assert [e["code"] for e in recv_until(ws, "finish") if e["type"] == "error"] == ["query_error"], "over 2,000 characters"
            ws.send(json.dumps({"type": "ping"}))
            assert recv(ws)["type"] == "pong"
            ws.send(b"\0" * 200_000)
            assert closed_with(ws) == 1009, "past the hard cap the connection ends (message too big)"
        assert httpx.get(srv.url + "/readyz").json()["status"] == "ready"


@model
def test_request_ids_are_echoed_and_in_every_log_record(backend, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    with running(services_factory(backend, tmp_path / "s.db"), log_level="info") as srv:
        sid = httpx.post(srv.url + "/v1/sessions").json()["session_id"]
        r = httpx.post(srv.url + "/v1/tools/view_cart", json={}, headers={"x-request-id": "rid-from-client-1", "x-session-id": sid})
        assert r.status_code == 200 and r.headers["x-request-id"] == "rid-from-client-1"
        made = httpx.get(srv.url + "/healthz", headers={"x-request-id": "bad id\twith spaces"}).headers["x-request-id"]
        assert len(made) == 32 and made != "bad id\twith spaces", "an unsafe id is replaced, never echoed"
        with connect(f"ws://{srv.host}/v1/chat") as ws:
            assert len(ws.response.headers["x-request-id"]) == 32
            recv(ws)
    access = [r for r in caplog.records if r.name == "uvicorn.access" and "/v1/tools/view_cart" in r.getMessage()]
    assert access and access[0].request_id == "rid-from-client-1" and access[0].session_id == sid
    assert any(getattr(r, "request_id", "-") == made for r in caplog.records)


# -- metrics --------------------------------------------------------------------------------


@model
def test_metrics_count_turns_stages_errors_and_sockets(backend, tmp_path):
    with running(services_factory(backend, tmp_path / "s.db")) as srv:
        with connect(f"ws://{srv.host}/v1/chat") as ws:
            recv(ws)
            ws.send(json.dumps({"type": "message", "text": "black sandals for men"}))
            recv_until(ws, "finish")
            ws.send("{not json")
            assert recv(ws)["code"] == "malformed_json"
            samples = metric_samples(httpx.get(srv.url + "/metrics").text)
            assert samples[("shop_assistant_open_websockets", ())] == 1
        message = {"role": "user", "parts": [{"type": "text", "text": ""}]}
        with httpx.stream("POST", srv.url + "/v1/chat/stream", json={"id": "m-1", "messages": [message]}) as r:
            assert r.status_code == 200 and any("data-error" in line for line in r.iter_lines())
        assert httpx.post(srv.url + "/v1/tools/launch_rocket", json={}).status_code == 404
        r = httpx.get(srv.url + "/metrics")
        assert r.headers["content-type"].startswith("text/plain")
        samples = metric_samples(r.text)

    def get(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert get("shop_assistant_turns_total", channel="ws", outcome="ok") == 1
    assert get("shop_assistant_turns_total", channel="sse", outcome="error") == 1
    for stage in ("first_card", "first_text", "total"):
        assert get("shop_assistant_stage_seconds_count", channel="ws", stage=stage) == 1, stage
    # where the search turn's time went: the wait for a worker, planning, encoding, the index
    for stage in ("queue", "plan", "encode", "index"):
        assert get("shop_assistant_stage_seconds_count", channel="ws", stage=stage) >= 1, stage
        assert get("shop_assistant_stage_seconds_sum", channel="ws", stage=stage) > 0, stage
    assert get("shop_assistant_error_events_total", route="/v1/chat", code="malformed_json") == 1
    assert get("shop_assistant_error_events_total", route="/v1/chat/stream", code="query_error") == 1
    assert get("shop_assistant_http_errors_total", route="/v1/tools/{name}", status="404") == 1
    assert get("shop_assistant_http_request_seconds_count", method="POST", route="/v1/chat/stream") == 1
    assert get("shop_assistant_open_websockets") == 0


# -- graceful shutdown ------------------------------------------------------------------------


@model
def test_shutdown_lets_the_turn_in_flight_finish_saves_it_and_closes_with_1001(backend, tmp_path):
    db = tmp_path / "s.db"
    with language_model_on_hold() as (llm, writer), running(services_factory(backend, db, writer)) as srv:
        with connect(f"ws://{srv.host}/v1/chat") as ws, connect(f"ws://{srv.host}/v1/chat") as idle:
            sid = recv(ws)["session_id"]
            recv(idle)
            ws.send(json.dumps({"type": "message", "text": "black sandals for men"}))
            before = recv_until(ws, "data-products")
            llm.wait_for_request()  # the turn is in flight: cards sent, its opening sentence held
            srv.server.should_exit = True
            srv.on_loop(_until_draining(srv))
            llm.release()  # the model fails; the turn answers from its templates and finishes
            rest = recv_until(ws, "finish", "error")
            assert rest[-1]["type"] == "finish", rest
            assert closed_with(ws) == 1001 and closed_with(idle) == 1001
        srv.thread.join(60)
    types = [e["type"] for e in before + rest]
    assert types[0] == "start" and "text-delta" in types and "error" not in types
    saved = SqliteSessionStore(db).load(sid)
    assert saved is not None and [t.role for t in saved.history] == ["user", "assistant"] and saved.history[0].content == "black sandals for men"


@model
def test_shutdown_ends_a_turn_past_the_grace_with_server_shutting_down(backend, tmp_path):
    settings = ServerSettings(shutdown_grace_s=0.2)
    with language_model_on_hold() as (llm, writer), running(services_factory(backend, tmp_path / "s.db", writer), settings) as srv:
        with connect(f"ws://{srv.host}/v1/chat") as ws:
            recv(ws)
            ws.send(json.dumps({"type": "message", "text": "black sandals for men"}))
            recv_until(ws, "data-products")
            llm.wait_for_request()
            srv.server.should_exit = True
            rest = recv_until(ws, "finish")
            errors = [e for e in rest if e["type"] == "error"]
            assert [(e["code"], e["retryable"]) for e in errors] == [("server_shutting_down", True)], rest
            assert closed_with(ws) == 1001
            llm.release()  # lets the held worker end, so the app's shutdown can close the store
        srv.thread.join(60)
        assert not srv.thread.is_alive()


def _until_draining(srv):
    async def wait() -> None:
        while not srv.ops.draining:
            await asyncio.sleep(0.01)

    return wait
