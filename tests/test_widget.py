"""The chat widget in a real browser: Debian's chromium driven by Playwright, against the real
server on a loopback port with a small real index. No browser download: Playwright launches
/usr/bin/chromium.

The chat page (text, facet chips, photo, cart; a screenshot in benchmarks/results), the
one-tag embed on another origin (API key, CORS), a spoken request end to end (the fake
microphone plays espeak-ng's speech; Whisper hears it, espeak-ng answers), and the voice
details the real server cannot be steered into on cue (barge-in mid-answer, push-to-talk,
`speech_started`), where the test plays the server's side of the socket (Playwright's
WebSocket routing) by the protocol's events.
"""

from __future__ import annotations

import base64
import http.server
import json
import math
import re
import struct
import subprocess
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, Playwright, WebSocket, WebSocketRoute, expect, sync_playwright

from assistant.server.settings import ServerSettings
from tests.conftest import ROOT
from tests.live_server import Backend, LiveServer, serve, small_backend

pytestmark = pytest.mark.model

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # A fake microphone (a tone, or a file given per launch) that needs no permission prompt.
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]  # fmt: skip
SCREENSHOT = ROOT / "benchmarks" / "results" / "widget.png"
SCREENSHOT_ZH = ROOT / "benchmarks" / "results" / "widget-zh.png"  # a Chinese conversation
WAIT_MS = 60_000  # a busy two-core machine can take long; waits, never timing asserts
VIEWPORT = {"width": 1280, "height": 900}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # the first bytes of every WebM file
SAMPLE_RATE = 24_000  # Hz, of the synthetic speech the voice test sends
EMBED_KEY = "shop-embed-key-0123456789"  # the key a shop puts in its page
ESPEAK_RATE = 22_050  # Hz, espeak-ng's output (PCM16 mono)
WAV_HEADER_BYTES = 44


@pytest.fixture(scope="module")
def backend(tmp_path_factory, kagl_csv) -> Iterator[Backend]:
    # 12 of each type: "something for men" then matches more than the agent's BROAD_RESULT, so it asks which brand.
    with small_backend(tmp_path_factory.mktemp("widget"), kagl_csv, per_type=12) as b:
        yield b


@pytest.fixture(scope="module")
def server(backend: Backend) -> Iterator[LiveServer]:
    """The server as it runs on a laptop: loopback, no keys."""
    with serve(backend) as s:
        yield s


@pytest.fixture(scope="module")
def pw() -> Iterator[Playwright]:
    if not CHROMIUM.is_file():
        pytest.fail(f"chromium is missing at {CHROMIUM} (Debian package `chromium`)")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(pw: Playwright) -> Iterator[Browser]:
    b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # a fresh profile: no stored session
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


class Frames:
    """Every JSON frame the page's chat sockets sent and received, in order."""

    def __init__(self, page: Page) -> None:
        self.sent: list[dict] = []
        self.received: list[dict] = []

        def watch(ws: WebSocket) -> None:
            ws.on("framesent", lambda payload: isinstance(payload, str) and self.sent.append(json.loads(payload)))
            ws.on("framereceived", lambda payload: isinstance(payload, str) and self.received.append(json.loads(payload)))

        page.on("websocket", watch)

    def turns(self) -> list[list[dict]]:
        """The received events grouped by turn (each from its `start` to its `finish`)."""
        out: list[list[dict]] = []
        for ev in self.received:
            if ev["type"] == "start":
                out.append([])
            if out and ev["type"] not in ("heartbeat", "pong"):
                out[-1].append(ev)
        return out


def wait_for_turn(page: Page, n: int) -> Locator:
    """The n-th answer (1-based) once it has finished streaming."""
    answer = page.locator(".sa-assistant[data-message-id]").nth(n - 1)
    answer.wait_for()
    expect(page.locator(".sa-root[data-streaming]")).to_have_count(0)
    return answer


def ask(page: Page, text: str) -> None:
    page.locator(".sa-input").fill(text)
    page.locator(".sa-input").press("Enter")


def test_a_colour_chip_keeps_the_brand_and_shows_only_that_colour(page: Page, backend: Backend) -> None:
    # Asked from 4 matches on, so the small index has a brand question and, the brand chosen, a colour one.
    with serve(backend, broad_result=3) as server:
        frames = Frames(page)
        page.goto(f"{server.url}/")
        ask(page, "something for men")
        first = wait_for_turn(page, 1)
        first.locator(".sa-chip").first.click()
        second = wait_for_turn(page, 2)
        facets = next(e for e in frames.turns()[1] if e["type"] == "data-facets")["data"]
        assert facets["field"] == "colour", "the brand chosen, the next question is the colour"
        expect(second.locator(".sa-facets-question")).to_have_text("Which colour?")
        chip = second.locator(".sa-chip").first
        colour = chip.get_attribute("data-value")
        brand = frames.sent[-1]["text"][len("only ") :].lower()
        chip.click()
        third = wait_for_turn(page, 3)
        assert frames.sent[-1]["text"].lower() == f"only {colour}"
        shown = next(e for e in frames.turns()[2] if e["type"] == "data-products")["data"]["products"]
        assert shown and all(p["colour"].lower() == colour for p in shown), [p["colour"] for p in shown]
        assert all(p["brand"].lower() == brand and p["gender"] in ("Men", "Unisex") for p in shown), "the earlier request stands"
        expect(third.locator(".sa-card")).to_have_count(len(shown))


def test_the_chat_page_streams_cards_refines_searches_by_photo_and_fills_the_cart(page: Page, server: LiveServer) -> None:
    frames = Frames(page)
    page.goto(f"{server.url}/")
    expect(page.locator(".sa-root")).to_have_attribute("data-state", "open")

    # A broad request: product cards, a streamed answer, and a clarifying question's chips.
    ask(page, "something for men")
    first = wait_for_turn(page, 1)
    expect(first.locator(".sa-card")).to_have_count(5)
    events = frames.turns()[0]
    deltas = [e["delta"] for e in events if e["type"] == "text-delta"]
    assert len(deltas) > 1, "the answer arrives in pieces"
    expect(first.locator(".sa-msg-text")).to_have_text("".join(deltas))
    shown = [p["id"] for p in next(e for e in events if e["type"] == "data-products")["data"]["products"]]
    assert first.locator(".sa-card").evaluate_all("cards => cards.map(c => c.dataset.productId)") == shown

    # A card's photo loads from the server; "why this?" opens the ranking reason.
    photo = first.locator(".sa-card img").first
    assert photo.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    why = first.locator(".sa-why-toggle").first
    why.click()
    expect(why).to_have_attribute("aria-expanded", "true")
    expect(first.locator(".sa-why").first).to_be_visible()
    expect(first.locator(".sa-why").first).to_contain_text("Found by")

    # A facet chip sends a refinement; the new cards keep the request and add the brand.
    chips = first.locator(".sa-chip")
    assert chips.count() > 1
    brand = chips.first.get_attribute("data-value")
    chips.first.click()
    second = wait_for_turn(page, 2)
    assert frames.sent[-1]["type"] == "message" and frames.sent[-1]["text"].lower() == f"only {brand}"
    expect(second.locator(".sa-msg-text")).to_contain_text("Updated the search")
    refined = next(e for e in frames.turns()[1] if e["type"] == "data-products")["data"]["products"]
    assert refined and all(p["brand"].lower() == brand for p in refined)
    expect(second.locator(".sa-card")).to_have_count(len(refined))

    # A photo of a catalogue product finds that product.
    row = next(r for r in server.rows if r["image"] and Path(r["image"]).is_file() and r["article_type"] == "Handbags")
    page.locator(".sa-file").set_input_files(row["image"])
    expect(page.locator(".sa-attachment img")).to_be_visible()
    page.locator(".sa-send").click()
    third = wait_for_turn(page, 3)
    message = frames.sent[-1]
    assert message["image"]["media_type"] == "image/jpeg"
    assert base64.b64decode(message["image"]["data"]) == Path(row["image"]).read_bytes()
    assert [e["toolName"] for e in frames.turns()[2] if e["type"] == "tool-input-available"] == ["search_by_photo"]
    expect(page.locator(".sa-user .sa-msg-photo")).to_have_count(1)
    expect(third.locator(f'.sa-card[data-product-id="{row["id"]}"]')).to_have_count(1)

    # Add to cart: the badge counts it, the cart lists it, and the server's session has it.
    card = third.locator(".sa-card").first
    product_id = card.get_attribute("data-product-id")
    card.locator(".sa-add").click()
    expect(page.locator(".sa-badge")).to_have_text("1")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.locator(".sa-cart-button").click()
    lines = page.locator(".sa-cart-line")
    expect(lines).to_have_count(1)
    expect(lines.first).to_have_attribute("data-product-id", product_id)
    session_id = page.evaluate("() => Object.entries(localStorage).find(([k]) => k.endsWith(':session'))[1]")
    cart = httpx.post(f"{server.url}/v1/tools/view_cart", json={}, headers={"X-Session-Id": session_id}).json()
    assert [ln["product_id"] for ln in cart["lines"]] == [product_id]

    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert SCREENSHOT.stat().st_size > 50_000, "a page with product photos, not a blank one"
    with Image.open(SCREENSHOT) as shot:
        assert shot.size[0] == VIEWPORT["width"] and shot.size[1] >= VIEWPORT["height"]
        assert len(shot.convert("RGB").resize((64, 64)).getcolors(4096) or []) > 50, "many colours: photos and text"


class ShopSite:
    """A shop's own site on another origin (another loopback port): `html` at every path."""

    def __init__(self) -> None:
        self.html = ""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's handler name
                body = site.html.encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture(scope="module")
def shop_site() -> Iterator[ShopSite]:
    site = ShopSite()
    thread = threading.Thread(target=site.httpd.serve_forever, daemon=True)
    thread.start()
    yield site
    site.httpd.shutdown()
    site.httpd.server_close()


@pytest.fixture(scope="module")
def public_server(backend: Backend, shop_site: ShopSite) -> Iterator[LiveServer]:
    """The server as a shop deploys it for its site: API keys on, the shop's origin allowed (CORS)."""
    with serve(backend, ServerSettings(api_keys=frozenset({EMBED_KEY}), cors_origins=[shop_site.origin])) as s:
        yield s


def test_one_script_tag_embeds_the_widget_on_another_site(page: Page, public_server: LiveServer, shop_site: ShopSite) -> None:
    url = public_server.url
    tag = f'<script src="{url}/widget.js" data-server="{url}" data-api-key="{EMBED_KEY}"></script>'
    shop_site.html = f"<!doctype html><html><head><title>A shop</title></head><body><h1>A shop</h1><p>Our products.</p>{tag}</body></html>"
    assert httpx.post(f"{url}/v1/tools/view_cart", json={}).status_code == 401, "the server wants a key"
    page.goto(f"{shop_site.origin}/")
    page.locator(".sa-launcher").click()
    expect(page.locator(".sa-root")).to_have_attribute("data-state", "open")
    expect(page.locator(".sa-input")).to_be_focused()
    ask(page, "black watches")
    answer = wait_for_turn(page, 1)
    expect(answer.locator(".sa-card").first).to_be_visible()
    assert answer.locator(".sa-card img").first.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    # The cart tools answer the shop's origin (CORS) with the page's key.
    answer.locator(".sa-add").first.click()
    expect(page.locator(".sa-badge")).to_have_text("1")
    # Everything lives in the widget's shadow root: the shop's document has no styles of ours.
    assert page.evaluate("document.styleSheets.length") == 0
    assert page.evaluate("document.querySelector('shop-assistant').shadowRoot.querySelector('.sa-panel') !== null")
    page.keyboard.press("Escape")
    expect(page.locator(".sa-launcher")).to_be_visible()


def test_a_widget_without_the_key_says_so_and_stops_retrying(page: Page, public_server: LiveServer, shop_site: ShopSite) -> None:
    url = public_server.url
    shop_site.html = f'<!doctype html><html><body><script src="{url}/widget.js"></script></body></html>'
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.goto(f"{shop_site.origin}/")
    page.locator(".sa-launcher").click()
    expect(page.locator(".sa-root")).to_have_attribute("data-state", "refused")
    expect(page.locator(".sa-error")).to_have_count(1)
    expect(page.locator(".sa-error")).to_contain_text("API key")
    page.wait_for_timeout(2_000)  # longer than the first two reconnect delays
    assert len(sockets) == 1, "a refused key is not retried"


def test_the_served_page_takes_its_key_from_the_address_fragment(page: Page, public_server: LiveServer) -> None:
    page.goto(f"{public_server.url}/#api_key={EMBED_KEY}")
    ask(page, "black watches")
    expect(wait_for_turn(page, 1).locator(".sa-card").first).to_be_visible()


def speech(seconds: float, hz: float = 220.0) -> str:
    """Base64 PCM16 little-endian mono: a tone standing in for synthesised speech."""
    n = int(seconds * SAMPLE_RATE)
    pcm = struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * hz * i / SAMPLE_RATE)) for i in range(n)))
    return base64.b64encode(pcm).decode()


def wait_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    for _ in range(WAIT_MS // 100):
        if condition():
            return
        page.wait_for_timeout(100)  # lets Playwright deliver the socket's frames meanwhile
    raise AssertionError(f"timed out waiting for {what}")


def test_voice_recording_transcript_spoken_answer_and_barge_in(page: Page, server: LiveServer) -> None:
    sent: list[dict] = []
    sockets: list[WebSocketRoute] = []

    def fake_server(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        ws.on_message(lambda m: isinstance(m, str) and sent.append(json.loads(m)))
        ws.send(json.dumps({"type": "session.created", "session_id": "voice-test", "protocol_version": "1", "resumed": False}))

    def push(*events: dict) -> None:
        for ev in events:
            sockets[-1].send(json.dumps(ev))

    page.context.grant_permissions(["microphone"], origin=server.url)
    page.route_web_socket(re.compile(r"/v1/chat"), fake_server)
    page.goto(f"{server.url}/")
    expect(page.locator(".sa-root")).to_have_attribute("data-state", "open")
    root, mic = page.locator(".sa-root"), page.locator(".sa-mic")

    # Click to start, click to stop: the recording goes out whole as WebM, then a commit.
    mic.click()
    expect(root).to_have_attribute("data-recording", "")
    expect(mic).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(800)  # speak for a moment (the fake microphone plays a tone)
    mic.click()
    wait_until(page, lambda: any(e["type"] == "input_audio_buffer.commit" for e in sent), "the commit")
    append, commit = sent[-2], sent[-1]
    assert append["type"] == "input_audio_buffer.append" and append["format"] == "webm"
    assert base64.b64decode(append["audio"])[:4] == EBML_MAGIC
    assert commit == {"type": "input_audio_buffer.commit"}

    # The transcript: the hypothesis, then the final text as the shopper's message.
    push({"type": "conversation.item.input_audio_transcription.delta", "transcript": "black wat"})
    expect(page.locator(".sa-user.sa-pending")).to_have_text("black wat")
    push({"type": "conversation.item.input_audio_transcription.completed", "transcript": "black watches", "language": "en"})
    expect(page.locator(".sa-user.sa-pending")).to_have_count(0)
    expect(page.locator(".sa-user .sa-msg-text[lang=en]")).to_have_text("black watches")

    # An answer streams and is spoken; speaking over it stops both (barge-in).
    push(
        {"type": "start", "messageId": "m1", "session_id": "voice-test"},
        {"type": "text-start", "id": "t1"},
        {"type": "text-delta", "id": "t1", "delta": "Here are"},
        {"type": "response.audio.delta", "audio": speech(1.5), "sample_rate": SAMPLE_RATE},
        {"type": "response.audio.delta", "audio": speech(1.5, 330.0), "sample_rate": SAMPLE_RATE},
    )
    expect(root).to_have_attribute("data-playing", "")
    expect(page.locator(".sa-stop")).to_be_visible()
    mic.click()
    expect(root).not_to_have_attribute("data-playing", "")
    wait_until(page, lambda: sent[-1] == {"type": "cancel"}, "the cancel")
    push({"type": "abort"})
    expect(page.locator(".sa-assistant .sa-notice")).to_have_text("Stopped.")
    expect(page.locator(".sa-stop")).to_be_hidden()

    # Hold to talk: releasing the button sends the recording.
    page.wait_for_timeout(500)
    mic.click()  # ends the recording the barge-in started
    wait_until(page, lambda: sum(e["type"] == "input_audio_buffer.commit" for e in sent) == 2, "the second commit")
    mic.hover()
    page.mouse.down()
    expect(root).to_have_attribute("data-recording", "")
    page.wait_for_timeout(800)
    page.mouse.up()
    wait_until(page, lambda: sum(e["type"] == "input_audio_buffer.commit" for e in sent) == 3, "the push-to-talk commit")
    expect(root).not_to_have_attribute("data-recording", "")

    # The next answer speaks again; the server hearing speech stops the playback.
    push(
        {"type": "start", "messageId": "m2", "session_id": "voice-test"},
        {"type": "finish"},
        {"type": "response.audio.delta", "audio": speech(3.0), "sample_rate": SAMPLE_RATE},
    )
    expect(root).to_have_attribute("data-playing", "")
    push({"type": "input_audio_buffer.speech_started"})
    expect(root).not_to_have_attribute("data-playing", "")

    # The speaker toggle is remembered.
    speaker = page.locator(".sa-speaker")
    expect(speaker).to_have_attribute("aria-pressed", "true")
    speaker.click()
    expect(speaker).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("localStorage.getItem('shop-assistant:speaker')") == "off"
    wait_until(page, lambda: sent[-1] == {"type": "session.update", "session": {"output_audio": False}}, "the server told not to speak")


@pytest.fixture(scope="module")
def voice_server(backend: Backend) -> Iterator[LiveServer]:
    """The server with Whisper listening and espeak-ng speaking."""
    with serve(backend, voice=True) as s:
        yield s


def test_a_spoken_request_end_to_end(pw: Playwright, voice_server: LiveServer, tmp_path: Path) -> None:
    # The browser's fake microphone plays a spoken request (espeak-ng) once; the real server
    # transcribes the widget's WebM recording, answers, and speaks.
    speak = ["espeak-ng", "-v", "en-us+m3", "-s", "140", "-g", "4", "--stdout", "show me black watches"]
    streamed = subprocess.run(speak, capture_output=True, check=True).stdout
    request = tmp_path / "request.wav"
    with wave.open(str(request), "wb") as w:  # espeak streams its WAV: the header's lengths are placeholders
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(ESPEAK_RATE)
        w.writeframes(streamed[WAV_HEADER_BYTES:])
    seconds = (len(streamed) - WAV_HEADER_BYTES) / (2 * ESPEAK_RATE)
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={request}%noloop"])
    try:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.set_default_timeout(WAIT_MS)
        frames = Frames(page)
        page.goto(f"{voice_server.url}/")
        expect(page.locator(".sa-root")).to_have_attribute("data-state", "open")
        mic = page.locator(".sa-mic")
        mic.click()
        expect(page.locator(".sa-root")).to_have_attribute("data-recording", "")
        page.wait_for_timeout(int(seconds * 1000) + 700)  # the whole request, and a little silence
        mic.click()
        expect(page.locator(".sa-user .sa-msg-text")).to_contain_text(re.compile("watch", re.I))
        answer = wait_for_turn(page, 1)
        expect(answer.locator(".sa-card").first).to_be_visible()
        assert all(p["category"] == "Watches" for e in frames.turns()[0] if e["type"] == "data-products" for p in e["data"]["products"])
        expect(page.locator(".sa-root")).to_have_attribute("data-playing", "")  # the answer is being spoken
        wait_until(page, lambda: any(e["type"] == "response.audio.done" for e in frames.received), "the end of the spoken answer")
    finally:
        browser.close()


def test_product_photos_are_served_by_id_only(server: LiveServer) -> None:
    row = next(r for r in server.rows if r["image"] and Path(r["image"]).is_file())
    r = httpx.get(f"{server.url}/v1/images/{row['id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == Path(row["image"]).read_bytes()
    for bad in ("no-such-product", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"):
        assert httpx.get(f"{server.url}/v1/images/{bad}").status_code == 404, bad
    for asset, kind in (("/", "text/html"), ("/widget.js", "text/javascript"), ("/widget.css", "text/css")):
        r = httpx.get(f"{server.url}{asset}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), asset
    assert "/widget.js" not in httpx.get(f"{server.url}/openapi.json").json()["paths"]


def test_a_chinese_conversation_in_the_widget(browser: Browser, server: LiveServer) -> None:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")  # the interface follows the browser's language
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f"{server.url}/")
        expect(page.locator(".sa-root")).to_have_attribute("data-state", "open")
        expect(page.locator(".sa-input")).to_have_attribute("placeholder", "想找什么商品？")
        ask(page, "我想买一双黑色的男士凉鞋")
        first = wait_for_turn(page, 1)
        expect(first.locator(".sa-msg-text")).to_contain_text("为您找到以下商品")
        assert first.locator(".sa-card").count() > 0
        expect(first.locator(".sa-add").first).to_have_text("加入购物车")
        ask(page, "第二个")
        second = wait_for_turn(page, 2)
        expect(second.locator(".sa-msg-text")).to_contain_text("品牌")
        ask(page, "black sandals for women")
        third = wait_for_turn(page, 3)
        expect(third.locator(".sa-msg-text")).not_to_contain_text("为您找到")
        page.screenshot(path=str(SCREENSHOT_ZH), full_page=True)
        assert SCREENSHOT_ZH.stat().st_size > 50_000
    finally:
        context.close()


def test_a_clip_dropped_in_the_chat_gives_a_card_group_per_product(page: Page, server: LiveServer, tmp_path: Path) -> None:
    from benchmarks.video_clips import make_clip

    frames = Frames(page)
    page.goto(f"{server.url}/")
    rows = [r for r in server.rows if r["image"] and Path(r["image"]).is_file()]
    filmed = [next(r for r in rows if r["article_type"] == kind) for kind in ("Watches", "Handbags")]
    clip = make_clip([(r["id"], r["article_type"], Path(r["image"])) for r in filmed], tmp_path / "clip", "h264", seed=4)
    page.locator(".sa-file").set_input_files(clip.path)
    expect(page.locator(".sa-attachment video")).to_have_count(1)
    page.locator(".sa-send").click()
    answer = wait_for_turn(page, 1)
    assert frames.sent[-1]["video"] == {"media_type": "video/mp4", "binary": True}, "the clip goes as the binary frame it declares"
    events = frames.turns()[0]
    assert [e["toolName"] for e in events if e["type"] == "tool-input-available"] == ["search_by_video"], events
    groups = [e["data"] for e in events if e["type"] == "data-products"]
    assert [g["group"]["item"] for g in groups] == [1, 2]
    expect(answer.locator(".sa-group")).to_have_count(2)
    expect(answer.locator(".sa-group").first).to_contain_text("Product 1")
    for n, row in enumerate(filmed):
        assert row["id"] in [p["id"] for p in groups[n]["products"]], f"product {n + 1} of the clip is in its group"
        expect(answer.locator(f'.sa-card[data-product-id="{row["id"]}"]')).to_have_count(1)
    expect(answer.locator(".sa-msg-text")).to_contain_text("I saw 2 product(s)")
    expect(page.locator(".sa-user video.sa-msg-photo")).to_have_count(1)
