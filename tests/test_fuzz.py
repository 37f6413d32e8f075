"""Random event sequences and payloads against the WebSocket of a real server (hypothesis).

Each example opens a connection (with the key, a wrong one, or none; sometimes resuming a
session), sends up to eight frames drawn from valid messages, photos (real and broken),
announced and unannounced binary frames, cancels, pings, audio events (this server has no
speech recognition: they are refused), every client type with random fields, unknown types,
non-object JSON, random text and bytes, and over-long strings; then it pings. Every frame
the server sends back must be a known event, every error a known code and none an
`internal_error`; the server must answer the ping, `/healthz` must stay 200, nothing may
be logged at ERROR, and when all connections are gone the server's event loop must hold
no more tasks than before the first example (counted on that loop, from the test).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from assistant.events import event_schema
from assistant.server.protocol import CLIENT_TYPES, SERVER_EVENT
from assistant.server.settings import ServerSettings
from tests.ops_server import running, services_factory, shared_backend

pytestmark = pytest.mark.model

EXAMPLES = 1000
KEY = "fuzz-key-0123456789abcdef"
SETTLE_S = 30.0  # time allowed for the server to finish closing connections before tasks are counted
ERROR_CODES = {  # docs/protocol.md's tables
    "malformed_json", "unknown_event", "invalid_event", "undeclared_binary", "bad_image", "nothing_to_cancel",
    "session_busy", "session_unknown", "session_forbidden", "session_expired",
    "query_error", "unauthorized", "shopper_token_invalid", "rate_limited", "frame_too_large", "server_shutting_down",
    "bad_audio", "audio_too_long", "no_speech", "empty_audio_buffer", "voice_unavailable",
}  # fmt: skip


def _types(schema: dict) -> set[str]:
    """The `type` constants of the event models in a JSON Schema."""
    return {d["properties"]["type"]["const"] for d in schema.get("$defs", {}).values() if "const" in d.get("properties", {}).get("type", {})}


SERVER_TYPES = _types(SERVER_EVENT.json_schema()) | _types(event_schema())


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, format="PNG")
    return out.getvalue()


PHOTO = _png((20, 20, 20))
WORDS = ["black sandals for men", "hello", "", "cheaper", "the second one", "add it to my cart", "yes", "no", "what is your return policy",
         "compare the first two", "why the first one?", "blue jeans", "more", "show my cart", "remove it", "watches by Titan"]  # fmt: skip
MEDIA_TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
texts = st.sampled_from(WORDS) | st.text(max_size=60) | st.integers(2001, 50_000).map(lambda n: "x" * n)
images = st.fixed_dictionaries(
    {"media_type": st.sampled_from(MEDIA_TYPES) | st.text(max_size=12)},
    optional={
        "data": st.sampled_from([base64.b64encode(PHOTO).decode(), "data:image/png;base64," + base64.b64encode(PHOTO).decode()])
        | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
        | st.text(max_size=40),
        "binary": st.booleans(),
        "extra": json_values,
    },
)
events = st.one_of(
    st.builds(lambda t: {"type": "message", "text": t}, texts),
    st.builds(lambda t, i: {"type": "message", "text": t, "image": i}, texts, images),
    st.builds(lambda t, m: {"type": "message", "text": t, "image": {"media_type": m, "binary": True}}, texts, st.sampled_from(MEDIA_TYPES)),
    st.sampled_from([{"type": "cancel"}, {"type": "ping"}, {"type": "input_audio_buffer.commit"}, {"type": "input_audio_buffer.clear"}]),
    st.builds(
        lambda audio, fmt: {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode(), "format": fmt},
        st.binary(max_size=64),
        st.sampled_from(["pcm16", "wav", "webm", "mp3"]),
    ),  # fmt: skip
    st.builds(
        lambda kind, extra: {"type": kind, **extra},
        st.sampled_from(CLIENT_TYPES) | st.text(max_size=12),
        st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    ),  # fmt: skip
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    json_values,
)
frames = st.one_of(
    events.map(json.dumps),
    events.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.just(PHOTO),
    st.integers(1_000, 200_000).map(lambda n: json.dumps({"type": "message", "text": "y" * n})),
)
auths = st.sampled_from(["query", "header", "query", "header", "query", "none", "wrong"])
sessions = st.none() | st.none() | st.sampled_from(["fuzz-a", "fuzz-b"]) | st.text(min_size=1, max_size=40)


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def server(tmp_path_factory, kagl_csv):
    backend = shared_backend(tmp_path_factory.mktemp("fuzz-backend"), kagl_csv)
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    settings = ServerSettings(api_keys={KEY}, rate_limit={"per_minute": 0})  # limits are tested in test_ops; here every frame gets through
    try:
        with running(services_factory(backend, tmp_path_factory.mktemp("fuzz") / "sessions.db"), settings) as srv:
            with connect(f"ws://{srv.host}/v1/chat?api_key={KEY}") as ws:  # warm up: the first turn loads what is lazy
                _recv(ws)
                ws.send(json.dumps({"type": "message", "text": "black sandals for men"}))
                while _recv(ws)["type"] != "finish":
                    pass
            srv.baseline_tasks = _settled_task_count(srv, None)
            yield srv, errors
            assert _settled_task_count(srv, srv.baseline_tasks) <= srv.baseline_tasks, "tasks leaked on the server's loop"
    finally:
        logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


def _settled_task_count(srv, target: int | None) -> int:
    """The loop's task count once connections have closed: stable for a while (or at `target`)."""
    deadline = time.monotonic() + SETTLE_S
    last = srv.task_count()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = srv.task_count()
        if (target is not None and now <= target) or (target is None and now == last and not srv.ops.sockets):
            return now
        last = now
    return last


def _recv(ws) -> dict:
    while True:
        raw = ws.recv(timeout=60)
        assert isinstance(raw, str), "the server sends text frames only"
        event = json.loads(raw)
        assert isinstance(event, dict) and event.get("type") in SERVER_TYPES, event
        if event["type"] == "error":
            assert event["code"] in ERROR_CODES, event
        if event["type"] != "heartbeat":
            return event


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(auth=auths, session=sessions, sent=st.lists(frames, min_size=1, max_size=8))
def test_random_frames_get_events_never_a_broken_server(server, auth, session, sent):
    srv, errors = server
    query = {"query": f"?api_key={KEY}", "wrong": "?api_key=wrong-key-0000000000"}.get(auth, "")
    if session is not None:
        query += ("&" if query else "?") + "session_id=" + quote(session, safe="")
    headers = {"x-api-key": KEY} if auth == "header" else {}
    with connect(f"ws://{srv.host}/v1/chat{query}", additional_headers=headers, max_size=None, open_timeout=30) as ws:
        first = _recv(ws)
        if auth in ("none", "wrong") or first["type"] == "error":
            # A made-up session id is no session: ids are the server's (session_access).
            assert first["code"] == ("unauthorized" if auth in ("none", "wrong") else "session_unknown"), first
            with pytest.raises(ConnectionClosed):
                _recv(ws)
            assert ws.close_code in (4401, 4404)
        else:
            assert first["type"] == "session.created"
            for frame in sent:
                ws.send(frame)
            ws.send(json.dumps({"type": "ping"}))
            pongs = 1 + sum(frame == json.dumps({"type": "ping"}) for frame in sent)
            while pongs:
                pongs -= _recv(ws)["type"] == "pong"
    assert httpx.get(f"{srv.url}/healthz", timeout=30).status_code == 200
    assert not errors.records, [r.getMessage() for r in errors.records]
