"""Voice over the real chat socket: Whisper in, espeak-ng out, barge-in, bad audio.

Speech is made by espeak-ng (Debian), containers by ffmpeg, and everything goes through a
real server (uvicorn on a loopback port) and the `websockets` client.
"""

from __future__ import annotations

import base64
import json
import subprocess
from contextlib import contextmanager

import numpy as np
import pytest
from websockets.sync.client import connect

from assistant.voice.audio import AudioLimits, decode
from tests.live_server import live_server, recv_until

pytestmark = pytest.mark.model

CHUNK_S = 0.25  # a streaming client sends a quarter second at a time


def spoken(text: str, voice: str = "en-us+m3", rate: int = 140, fmt: str = "wav") -> bytes:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-g", "4", "--stdout", text], capture_output=True, check=True).stdout
    if fmt == "wav":
        return wav
    codec = {"webm": ["-c:a", "libopus", "-f", "webm"], "mp3": ["-f", "mp3"]}[fmt]
    return subprocess.run(["ffmpeg", "-loglevel", "error", "-i", "pipe:0", *codec, "pipe:1"], input=wav, capture_output=True, check=True).stdout


def pcm16(wav: bytes, pad_s: float = 0.3) -> bytes:
    samples = decode(wav, "wav", AudioLimits())
    pad = np.zeros(int(pad_s * 16000), np.float32)
    return (np.concatenate([pad, samples, pad]) * 32767).astype("<i2").tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory, kagl_csv):
    with live_server(tmp_path_factory.mktemp("voice"), kagl_csv, voice=True) as srv:
        yield srv


@contextmanager
def open_chat(server):
    with connect(f"ws://{server.host}/v1/chat", max_size=None, open_timeout=30) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "session.created"
        yield ws


def until(ws, kind: str, timeout: float = 120.0) -> list[dict]:
    return recv_until(ws, kind, timeout=timeout)


def stream_pcm(ws, pcm: bytes) -> None:
    step = int(CHUNK_S * 16000) * 2
    for i in range(0, len(pcm), step):
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(pcm[i : i + step])}))


def test_streamed_speech_is_transcribed_answered_and_spoken(server):
    with open_chat(server) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"input_audio_language": "en"}}))
        assert until(ws, "session.updated")[-1] == {"type": "session.updated", "input_audio_language": "en", "output_audio": True}
        stream_pcm(ws, pcm16(spoken("show me black watches for men")))
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        events = until(ws, "response.audio.done")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "input_audio_buffer.speech_started"
    done = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    words = done["transcript"].lower()
    assert "watch" in words and "men" in words and done["language"] == "en"
    assert done["query"] == done["transcript"]
    # transcript, then the turn (cards before text), then the spoken answer
    assert kinds.index("conversation.item.input_audio_transcription.completed") < kinds.index("start") < kinds.index("data-products")
    assert kinds.index("data-products") < kinds.index("text-delta") < kinds.index("response.audio.delta")
    cards = next(e for e in events if e["type"] == "data-products")["data"]["products"]
    assert any("watch" in c["category"].lower() for c in cards)
    audio = [e for e in events if e["type"] == "response.audio.delta"]
    assert {e["sample_rate"] for e in audio} == {22050}
    assert {e["item_id"] for e in audio} == {done["item_id"]}
    seconds = sum(len(base64.b64decode(e["audio"])) for e in audio) / 2 / 22050
    assert seconds > 1.0  # something was said, not a click


def test_a_misheard_spoken_search_is_heard_again_with_the_catalogues_terms(server):
    # espeak-ng's default voice at its default speed: Whisper base hears "Looting for men.", which
    # names no kind of product; heard again, Whisper's own score picks "blue jeans for men".
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "175", "--stdout", "blue jeans for men"], capture_output=True, check=True).stdout
    with open_chat(server) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"input_audio_language": "en", "output_audio": False}}))
        until(ws, "session.updated")
        stream_pcm(ws, pcm16(wav))
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        events = until(ws, "finish")
    done = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert "jeans" not in done["transcript"].lower(), f"Whisper heard it right this time: {done['transcript']!r}"
    reheard = done["reheard"]
    assert reheard["kind"] == "jeans" and "jeans" in reheard["text"].lower() and reheard["sure"], reheard
    notice = next(e for e in events if e["type"] == "data-notice")["data"]
    assert notice["code"] == "heard_again" and "jeans" in notice["text"]
    cards = next(e for e in events if e["type"] == "data-products")["data"]["products"]
    assert cards and all(c["category"] == "Jeans" for c in cards)


@pytest.mark.parametrize("fmt", ["webm", "mp3"])
def test_containers_are_decoded(server, fmt):
    with open_chat(server) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"output_audio": False, "input_audio_language": "en"}}))
        until(ws, "session.updated")
        ws.send(json.dumps({"type": "input_audio_buffer.append", "format": fmt, "audio": b64(spoken("black leather handbag", fmt=fmt))}))
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        events = until(ws, "finish")
    done = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert "leather" in done["transcript"].lower()
    assert not any(e["type"].startswith("response.audio") for e in events)  # output audio turned off


def test_mandarin_is_transcribed_and_the_turn_runs_on_the_chinese(server):
    # espeak-ng reads hanzi as digits; pinyin with tone numbers is its Mandarin input.
    wav = spoken("wo3 xiang3 mai3 hong2 se4 de5 yun4 dong4 xie2", voice="cmn-latn-pinyin", rate=130)
    with open_chat(server) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"output_audio": False}}))
        until(ws, "session.updated")
        ws.send(json.dumps({"type": "input_audio_buffer.append", "format": "wav", "audio": b64(wav)}))
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        events = until(ws, "finish", timeout=180)
    done = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert done["language"] == "zh"
    assert "我想" in done["transcript"]  # "I want to ..." heard as spoken
    assert done["query"].startswith("我想"), "the turn runs on the Chinese transcript itself, not a translation"
    answer = "".join(e["delta"] for e in events if e["type"] == "text-delta")
    assert any("\u4e00" <= c <= "\u9fff" for c in answer), "a Chinese utterance is answered in Chinese"


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_silence_and_noise_are_no_speech_and_the_socket_stays_usable(server, kind):
    rng = np.random.default_rng(0)
    samples = np.zeros(3 * 16000) if kind == "silence" else rng.normal(0, 0.3, 3 * 16000)
    with open_chat(server) as ws:
        stream_pcm(ws, (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        err = until(ws, "error")[-1]
        assert err["code"] == "no_speech"
        ws.send(json.dumps({"type": "message", "text": "black watches"}))
        assert any(e["type"] == "data-products" for e in until(ws, "finish"))


def test_ten_minutes_of_audio_is_refused_early(server):
    with open_chat(server) as ws:
        second = (np.random.default_rng(1).normal(0, 0.1, 16000) * 32767).astype("<i2").tobytes()
        codes = []
        for _ in range(600):  # ten minutes, a second a frame; refused at the limit, then a new utterance starts
            ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(second)}))
        ws.send(json.dumps({"type": "ping"}))
        for ev in until(ws, "pong"):
            if ev["type"] == "error":
                codes.append(ev["code"])
        assert codes and set(codes) == {"audio_too_long"}
        assert len(codes) == 600 // (int(AudioLimits().max_seconds) + 1)  # each 31st second overflows one utterance
        ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert until(ws, "input_audio_buffer.cleared")
        # a ten-minute file in a container: refused once decoding passes the limit
        long_mp3 = subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=600", "-b:a", "8k", "-f", "mp3", "pipe:1"],
            capture_output=True,
            check=True,
        ).stdout
        ws.send(json.dumps({"type": "input_audio_buffer.append", "format": "mp3", "audio": b64(long_mp3)}))
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        assert [e for e in until(ws, "error") if e["type"] == "error"][-1]["code"] == "audio_too_long"


COMMIT = {"type": "input_audio_buffer.commit"}


def append(data: bytes | str, fmt: str = "pcm16") -> dict:
    return {"type": "input_audio_buffer.append", "format": fmt, "audio": data if isinstance(data, str) else b64(data)}


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([append("%%%not base64%%%")], "bad_audio"),
        ([append(b"ID3 but not really an mp3" * 50, "mp3"), COMMIT], "bad_audio"),
        ([append(b"\x01\x02\x03"), COMMIT], "bad_audio"),  # odd byte count: not PCM16
        ([append(b"\0\0" * 100), append(b"RIFF", "wav")], "bad_audio"),  # format changed mid-utterance
        ([COMMIT], "empty_audio_buffer"),
        ([{"type": "input_audio_buffer.append", "audio": "", "format": "flac"}], "invalid_event"),
        ([{"type": "session.update", "session": {"input_audio_language": "English!"}}], "invalid_event"),
    ],
)
def test_bad_audio_gets_a_typed_error(server, frames, code):
    with open_chat(server) as ws:
        for f in frames:
            ws.send(json.dumps(f))
        err = [e for e in until(ws, "error") if e["type"] == "error"][-1]
        assert err["code"] == code, err
        ws.send(json.dumps({"type": "ping"}))
        assert until(ws, "pong")


def test_speech_interrupts_the_spoken_answer(server):
    question = pcm16(spoken("show me black watches for men"))
    with open_chat(server) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"input_audio_language": "en"}}))
        until(ws, "session.updated")
        stream_pcm(ws, question)
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        first = until(ws, "conversation.item.input_audio_transcription.completed")[-1]["item_id"]
        until(ws, "response.audio.delta")
        stream_pcm(ws, question[:16000])  # the shopper starts talking over the answer
        after = until(ws, "input_audio_buffer.speech_started")
        kinds = [e["type"] for e in after]
        assert "abort" in kinds and kinds.index("abort") < len(kinds) - 1
        ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        ws.send(json.dumps({"type": "ping"}))
        rest = until(ws, "pong")
        assert not [e for e in rest if e["type"] == "response.audio.delta" and e["item_id"] == first]
        assert not [e for e in rest if e["type"] == "response.audio.done"]
