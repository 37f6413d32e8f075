"""The server over real sockets: uvicorn on a loopback port, the `websockets` client, httpx."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from assistant.catalogue.loader import load_catalogue
from assistant.config import Settings
from assistant.index.edge import EdgeIndex
from assistant.ingest import ingest_catalogue
from assistant.runtime import load_encoders
from tests.kagl_subset import write_subset
from tests.live_server import live_server, recv_until

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(tmp_path_factory, kagl_csv):
    with live_server(tmp_path_factory.mktemp("server"), kagl_csv) as srv:
        yield srv.host, srv.rows


def turn(ws, message: dict) -> list[dict]:
    ws.send(json.dumps(message))
    return recv_until(ws, "finish")


def test_a_streamed_turn_with_cards_before_text(server):
    host, _ = server
    with connect(f"ws://{host}/v1/chat") as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "session.created" and hello["protocol_version"] and not hello["resumed"]
        events = turn(ws, {"type": "message", "text": "black sandals for men"})
        types = [e["type"] for e in events]
        assert types[0] == "start" and types[-1] == "finish"
        assert types.index("data-products") < types.index("text-delta")
        products = next(e for e in events if e["type"] == "data-products")["data"]["products"]
        assert products and all(p["category"] == "Sandals" for p in products)
        tool = next(e for e in events if e["type"] == "tool-input-available")
        assert tool["toolName"] == "search_products" and tool["toolCallId"]


def test_bad_frames_get_typed_errors_and_the_socket_stays_usable(server):
    host, _ = server
    with connect(f"ws://{host}/v1/chat") as ws:
        ws.recv(timeout=10)
        for frame, code in [
            ("{not json", "malformed_json"),
            (json.dumps({"type": "dance"}), "unknown_event"),
            (json.dumps([1, 2]), "unknown_event"),
            (json.dumps({"type": "message", "text": 5}), "invalid_event"),
            (json.dumps({"type": "message", "text": "x", "image": {"media_type": "image/png", "data": "%%%"}}), "bad_image"),
            (json.dumps({"type": "cancel"}), "nothing_to_cancel"),
        ]:
            ws.send(frame)
            ev = json.loads(ws.recv(timeout=10))
            assert ev["type"] == "error" and ev["code"] == code, (frame, ev)
        ws.send(b"\x89PNG...")
        assert json.loads(ws.recv(timeout=10))["code"] == "undeclared_binary"
        events = turn(ws, {"type": "message", "text": ""})
        assert [e["code"] for e in events if e["type"] == "error"] == ["query_error"]
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"
        assert "data-products" in [e["type"] for e in turn(ws, {"type": "message", "text": "black watches"})]


def test_photos_as_base64_and_as_a_binary_frame(server, kagl_csv):
    host, rows = server
    photo = next(kagl_csv.parent / "images" / f"{r['id']}.jpg" for r in rows if (kagl_csv.parent / "images" / f"{r['id']}.jpg").is_file())
    data = photo.read_bytes()
    with connect(f"ws://{host}/v1/chat", max_size=None) as ws:
        ws.recv(timeout=10)
        events = turn(ws, {"type": "message", "text": "", "image": {"media_type": "image/jpeg", "data": base64.b64encode(data).decode()}})
        assert any(e["type"] == "data-products" for e in events)
        ws.send(json.dumps({"type": "message", "text": "but in black", "image": {"media_type": "image/jpeg", "binary": True}}))
        ws.send(data)
        events = recv_until(ws, "finish")
        assert [e["toolName"] for e in events if e["type"] == "tool-input-available"] == ["search_by_photo"]
        ws.send(json.dumps({"type": "message", "text": "x", "image": {"media_type": "image/jpeg", "binary": True}}))
        ws.send(b"this is not an image")
        ev = json.loads(ws.recv(timeout=10))
        assert ev["type"] == "error" and ev["code"] == "bad_image"
        # A Chinese message's photo that is no image: why, in Chinese.
        ws.send(json.dumps({"type": "message", "text": "找类似的", "image": {"media_type": "image/jpeg", "binary": True}}))
        ws.send(b"this is not an image")
        ev = json.loads(ws.recv(timeout=10))
        assert ev["code"] == "bad_image" and ev["errorText"] == "这不是图片（无法识别的格式）"


def test_a_second_socket_on_a_session_is_refused_and_resume_works(server):
    host, _ = server
    with connect(f"ws://{host}/v1/chat") as ws:
        created = json.loads(ws.recv(timeout=10))
        sid = created["session_id"]
        assert created["resumed"] is False and len(sid) >= 32, "a new session's id is the server's, unguessable"
        shown = next(e for e in turn(ws, {"type": "message", "text": "black watches"}) if e["type"] == "data-products")["data"]["products"]
        with connect(f"ws://{host}/v1/chat?session_id={sid}") as second:
            ev = json.loads(second.recv(timeout=10))
            assert ev["type"] == "error" and ev["code"] == "session_busy"
    with connect(f"ws://{host}/v1/chat?session_id=resume-1") as ws:
        ev = json.loads(ws.recv(timeout=10))
        assert ev["type"] == "error" and ev["code"] == "session_unknown", "a client-made id is no session"
    with connect(f"ws://{host}/v1/chat?session_id={sid}") as ws:
        assert json.loads(ws.recv(timeout=10))["resumed"] is True
        events = turn(ws, {"type": "message", "text": "tell me about the second one"})
        text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
        assert shown[1]["name"] in text, "the reconnected socket continues the same session"


def test_a_client_that_disconnects_mid_answer_leaves_the_server_healthy(server):
    host, _ = server
    for _ in range(3):
        with connect(f"ws://{host}/v1/chat") as ws:
            ws.recv(timeout=10)
            ws.send(json.dumps({"type": "message", "text": "blue jeans for women"}))
    assert httpx.get(f"http://{host}/readyz").json()["status"] == "ready"


def test_sse_speaks_the_ai_sdk_ui_message_stream(server):
    host, _ = server
    message = {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "black sandals for men"}]}
    body = {"id": "sse-1", "messages": [message], "trigger": "submit-message"}
    with httpx.stream("POST", f"http://{host}/v1/chat/stream", json=body, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln.removeprefix("data: ")) for ln in lines[:-1]]
    allowed = {
        "start": {"type", "messageId"},
        "text-start": {"type", "id"},
        "text-delta": {"type", "id", "delta"},
        "text-end": {"type", "id"},
        "tool-input-available": {"type", "toolCallId", "toolName", "input"},
        "tool-output-available": {"type", "toolCallId", "output"},
        "finish": {"type"},
        "error": {"type", "errorText"},
    }
    for c in chunks:
        assert c["type"] in allowed or c["type"].startswith("data-"), c
        assert set(c) <= allowed.get(c["type"], {"type", "data", "id"}), c
    assert chunks[0]["type"] == "start" and chunks[-1]["type"] == "finish"
    bad = {"id": "sse-2", "messages": [{"role": "user", "parts": [{"type": "file", "mediaType": "image/png", "url": "data:image/png;base64,@@"}]}]}
    assert httpx.post(f"http://{host}/v1/chat/stream", json=bad).status_code == 422
    assert httpx.post(f"http://{host}/v1/chat/stream", content=b"{", headers={"content-type": "application/json"}).status_code == 422


def test_the_tool_call_api(server):
    host, rows = server
    tools = httpx.get(f"http://{host}/v1/tools").json()
    names = {t["function"]["name"] for t in tools}
    assert {"search_products", "search_by_photo", "add_to_cart", "answer_policy_question"} <= names
    assert all(t["function"]["strict"] is True for t in tools)
    r = httpx.post(f"http://{host}/v1/tools/search_products", json={"query": "black sandals for men", "k": 3}, timeout=30)
    assert r.status_code == 200 and [p["category"] for p in r.json()["products"]] == ["Sandals"] * 3
    r = httpx.post(f"http://{host}/v1/tools/search_products", json={"k": 3})
    assert r.status_code == 422 and "query" in r.json()["error"]
    assert httpx.post(f"http://{host}/v1/tools/launch_rocket", json={}).status_code == 404
    pid = rows[0]["id"]
    made = httpx.post(f"http://{host}/v1/sessions")
    assert made.status_code == 201
    sid = made.json()["session_id"]
    r = httpx.post(f"http://{host}/v1/tools/add_to_cart", json={"product_id": pid}, headers={"X-Session-Id": "api-1"})
    assert r.status_code == 404 and r.json()["code"] == "session_unknown", "an id the server never issued"
    r = httpx.post(f"http://{host}/v1/tools/add_to_cart", json={"product_id": pid}, headers={"X-Session-Id": sid})
    assert r.status_code == 200 and r.json()["items"] == 1
    r = httpx.post(f"http://{host}/v1/tools/add_to_cart", json={"product_id": "no-such-product"}, headers={"X-Session-Id": sid})
    assert r.status_code == 422 and "no-such-product" in r.json()["error"]
    cart = httpx.post(f"http://{host}/v1/tools/view_cart", json={}, headers={"X-Session-Id": sid}).json()
    assert [ln["product_id"] for ln in cart["lines"]] == [pid], "the cart persists in the session, an unknown id changed nothing"
    r = httpx.post(f"http://{host}/v1/tools/search_by_photo", json={"image": "/etc/passwd"})
    assert r.status_code == 422


def test_the_published_protocol_schema_matches_the_code():
    from pathlib import Path

    from assistant.server.app import protocol_document

    published = Path(__file__).resolve().parents[1] / "docs" / "protocol.schema.json"
    assert json.loads(published.read_text()) == protocol_document(), "run `shop-assistant protocol-schema > docs/protocol.schema.json`"


def test_health_readiness_openapi_and_protocol(server):
    host, _ = server
    assert httpx.get(f"http://{host}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"http://{host}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    spec = httpx.get(f"http://{host}/openapi.json").json()
    assert "/v1/tools/{name}" in spec["paths"] and "/v1/chat/stream" in spec["paths"]
    proto = httpx.get(f"http://{host}/v1/protocol").json()
    assert proto["version"] and "message" in json.dumps(proto["client_events"])


def test_the_tools_over_mcp_streamable_http(server):
    import anyio
    from mcp.client.client import Client

    host, _ = server

    async def session() -> tuple[set[str], dict, bool]:
        async with Client(f"http://{host}/mcp") as client:
            tools = await client.list_tools()
            found = await client.call_tool("search_products", {"query": "black sandals for men", "k": 3})
            bad = await client.call_tool("get_product", {"product_id": "no-such-product"})
            return {t.name for t in tools.tools}, found.structured_content, bad.is_error

    names, found, bad_is_error = anyio.run(session)
    assert {"search_products", "search_by_photo", "get_facets", "answer_policy_question"} <= names
    assert [p["category"] for p in found["products"]] == ["Sandals"] * 3
    assert bad_is_error, "a failed tool call is an MCP error result"


def test_a_cart_over_mcp_persists_across_calls_on_one_session(server):
    import anyio
    from mcp.client.client import Client

    host, rows = server
    first, second = rows[0]["id"], rows[1]["id"]

    async def shop() -> dict:
        seen: dict = {}
        async with Client(f"http://{host}/mcp") as client:
            sid = (await client.call_tool("open_session", {})).structured_content["session_id"]
            seen["sid"] = sid
            no_session = await client.call_tool("add_to_cart", {"product_id": first})
            seen["no_session"] = (no_session.is_error, json.loads(no_session.content[0].text)["code"])
            guessed = await client.call_tool("add_to_cart", {"product_id": first, "session_id": "made-up"})
            seen["guessed"] = json.loads(guessed.content[0].text)["code"]
        # Each call below is its own MCP connection: nothing carries the cart but the session.
        for name, args in [("add_to_cart", {"product_id": first}), ("add_to_cart", {"product_id": second, "quantity": 2}),
                           ("remove_from_cart", {"product_id": first}), ("view_cart", {})]:  # fmt: skip
            async with Client(f"http://{host}/mcp") as client:
                result = await client.call_tool(name, {**args, "session_id": sid})
                assert not result.is_error, result.content
                seen[name] = result.structured_content
        return seen

    seen = anyio.run(shop)
    assert seen["no_session"] == (True, "session_required") and seen["guessed"] == "session_unknown"
    assert [(ln["product_id"], ln["quantity"]) for ln in seen["view_cart"]["lines"]] == [(second, 2)]
    over_http = httpx.post(f"http://{host}/v1/tools/view_cart", json={}, headers={"X-Session-Id": seen["sid"]}).json()
    assert over_http == seen["view_cart"], "the same cart over the tool API"


def test_the_tools_over_mcp_stdio(tmp_path, kagl_csv):
    # `shop-assistant mcp` as a subprocess, driven by the official MCP stdio client. Its own
    # small index: the embedded engine opens an index folder from one process at a time.
    import sys

    import anyio
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters

    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=3)
    index = EdgeIndex(tmp_path / "index")
    ingest_catalogue(load_catalogue(csv_path), index, "kagl", load_encoders(Settings()), "test", progress=False)
    index.close()
    params = StdioServerParameters(command=sys.executable, args=["-m", "assistant.cli", "--index", str(tmp_path / "index"), "mcp"])

    async def session() -> tuple[int, list[str], bool]:
        async with Client(params) as client:
            tools = await client.list_tools()
            found = await client.call_tool("search_products", {"query": "watches", "k": 3})
            bad = await client.call_tool("search_by_photo", {"image": "not base64!"})
            return len(tools.tools), [p["category"] for p in found.structured_content["products"]], bad.is_error

    n_tools, categories, bad_is_error = anyio.run(session)
    from tools.registry import TOOLS

    assert n_tools == len(TOOLS) + 1 and categories == ["Watches"] * 3 and bad_is_error  # every tool, and open_session


def test_a_chinese_conversation_over_the_socket(server):
    host, _ = server
    with connect(f"ws://{host}/v1/chat") as ws:
        ws.recv(timeout=10)
        events = turn(ws, {"type": "message", "text": "我想买一双黑色的男士凉鞋"})
        products = next(e for e in events if e["type"] == "data-products")["data"]["products"]
        assert products and all(p["category"] == "Sandals" and p["colour"] == "Black" for p in products)
        text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
        assert text.startswith("为您找到")
        events = turn(ws, {"type": "message", "text": "第二个"})
        assert [e["toolName"] for e in events if e["type"] == "tool-input-available"] == ["get_product"]
        assert products[1]["name"] in "".join(e["delta"] for e in events if e["type"] == "text-delta")
        events = turn(ws, {"type": "message", "text": "black sandals for women"})
        text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
        assert text and not any("\u4e00" <= c <= "\u9fff" for c in text), "an English turn is answered in English"


def test_clips_as_base64_then_a_follow_up_on_their_cards_and_bad_clips_refused_with_codes(server, kagl_csv, tmp_path):
    from benchmarks.video_clips import make_clip

    host, rows = server
    with_photo = [r for r in rows if (kagl_csv.parent / "images" / f"{r['id']}.jpg").is_file()]
    filmed = [next(r for r in with_photo if r["article_type"] == kind) for kind in ("Sandals", "Watches")]
    clip = make_clip([(r["id"], r["article_type"], kagl_csv.parent / "images" / f"{r['id']}.jpg") for r in filmed], tmp_path / "c", "vp9", seed=8)
    data = base64.b64encode(Path(clip.path).read_bytes()).decode()
    with connect(f"ws://{host}/v1/chat", max_size=None) as ws:
        ws.recv(timeout=10)
        events = turn(ws, {"type": "message", "text": "", "video": {"media_type": "video/webm", "data": data}})
        groups = [e["data"] for e in events if e["type"] == "data-products"]
        assert [g["group"]["item"] for g in groups] == [1, 2] and all(len(g["products"]) == 3 for g in groups)
        assert [e["type"] for e in events].index("data-products") < [e["type"] for e in events].index("text-delta"), "cards before text"
        # the cards are numbered on from group to group: the fourth is the second group's first
        fourth = groups[1]["products"][0]
        events = turn(ws, {"type": "message", "text": "tell me more about the fourth one"})
        assert any(e["type"] == "tool-input-available" and e["input"].get("product_id") == fourth["id"] for e in events)
        bad = {
            b"plain text, not a clip": "bad_video",
            (kagl_csv.parent / "images" / f"{filmed[0]['id']}.jpg").read_bytes(): "bad_video",  # a still image
        }
        for payload, code in bad.items():
            ws.send(json.dumps({"type": "message", "text": "what is this", "video": {"media_type": "video/mp4", "binary": True}}))
            ws.send(payload)
            ev = json.loads(ws.recv(timeout=30))
            assert ev["type"] == "error" and ev["code"] == code, ev
        ws.send(json.dumps({"type": "message", "text": "x", "video": {"media_type": "video/mp4", "data": "not base64!"}}))
        assert json.loads(ws.recv(timeout=10))["code"] == "bad_video"
        events = turn(ws, {"type": "message", "text": "black watches"})  # the session goes on
        assert "data-products" in [e["type"] for e in events]
