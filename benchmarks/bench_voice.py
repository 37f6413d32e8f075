"""Voice benchmark: transcript accuracy and latency through the real server.

Speaks the 30 shopping queries of `benchmarks/voice/queries_en.txt` with espeak-ng, streams
each to WebSocket `/v1/chat` as 16 kHz PCM16 at real-time pace (a quarter second a frame,
as a phone or a browser worklet would), commits, and times from the commit (the end of
speech) to the final transcript and to the first chunk of the spoken answer. Word error rate
is computed over all 30 (jiwer; lower case, punctuation dropped). Runs once per espeak-ng
voice and once per language setting (`en` declared, or detected per utterance), against
`shop-assistant serve` in its own process on the ingested index with the configured LLM
(default: the embedded model). Prints a table,
writes JSON.

Usage: python benchmarks/bench_voice.py [--voices en-us+m3:140,en-us:175] [--languages en,auto] [--index PATH]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.sync.client import connect  # noqa: E402

from assistant.voice.audio import AudioLimits, decode  # noqa: E402
from benchmarks.common import write_result  # noqa: E402
from benchmarks.serving import serve_process  # noqa: E402

HERE = Path(__file__).resolve().parent
CHUNK_S = 0.25


def speak(text: str, voice: str, rate: int) -> bytes:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "--stdout", text], capture_output=True, check=True).stdout
    samples = decode(wav, "wav", AudioLimits())
    pad = np.zeros(int(0.3 * 16000), np.float32)  # a breath before and after, as a microphone hears it
    return (np.concatenate([pad, samples, pad]) * 32767).astype("<i2").tobytes()


def normalise(text: str) -> str:
    text = text.lower().replace("-", " ")
    return " ".join(re.sub(r"[^\w$' ]", " ", text).split())


def one_query(host: str, pcm: bytes, language: str | None) -> dict:
    with connect(f"ws://{host}/v1/chat", max_size=None, open_timeout=60) as ws:
        json.loads(ws.recv(timeout=60))  # session.created
        ws.send(json.dumps({"type": "session.update", "session": {"input_audio_language": language}}))
        step = int(CHUNK_S * 16000) * 2
        t0 = time.perf_counter()
        for n, i in enumerate(range(0, len(pcm), step)):
            # real-time pace: frame n leaves when its audio would have been spoken
            time.sleep(max(0.0, t0 + n * CHUNK_S - time.perf_counter()))
            ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm[i : i + step]).decode()}))
        time.sleep(max(0.0, t0 + len(pcm) / 32000 - time.perf_counter()))
        end_of_speech = time.perf_counter()
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        out: dict = {"partials": 0}
        while True:
            ev = json.loads(ws.recv(timeout=120))
            now = time.perf_counter() - end_of_speech
            kind = ev["type"]
            if kind == "conversation.item.input_audio_transcription.delta":
                out["partials"] += 1
            elif kind == "conversation.item.input_audio_transcription.completed":
                out.update(transcript=ev["transcript"], language=ev["language"], final_s=now)
            elif kind == "data-products" and "card_s" not in out:
                out["card_s"] = now
            elif kind == "response.audio.delta" and "audio_s" not in out:
                out["audio_s"] = now
            elif kind == "error":
                out.setdefault("errors", []).append(ev["code"])
                if "transcript" not in out:
                    return out
            elif kind == "response.audio.done":
                return out


def main() -> None:
    import jiwer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="embedded index folder (default: the user data folder)")
    ap.add_argument("--queries", type=Path, default=HERE / "voice" / "queries_en.txt")
    ap.add_argument("--voices", default="en-us+m3:140,en-us:175", help="espeak-ng voice:words-per-minute, comma-separated")
    ap.add_argument("--languages", default="en,auto", help="input_audio_language settings to run (auto: detect)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "voice.json")
    a = ap.parse_args()
    queries = [q.strip() for q in a.queries.read_text().splitlines() if q.strip()]
    runs = []
    with serve_process(a.out.with_suffix(".server.log"), a.index) as host:
        one_query(host, speak("hello", "en-us", 175), "en")  # warm-up: first-call costs are not the shopper's
        for voice_spec in a.voices.split(","):
            voice, rate = voice_spec.split(":")
            audio = [speak(q, voice, int(rate)) for q in queries]
            for lang in a.languages.split(","):
                rows = [one_query(host, pcm, None if lang == "auto" else lang) for pcm in audio]
                hyps = [normalise(r.get("transcript", "")) for r in rows]
                refs = [normalise(q) for q in queries]
                final = [r["final_s"] for r in rows if "final_s" in r]
                first_audio = [r["audio_s"] for r in rows if "audio_s" in r]
                run = {
                    "voice": voice,
                    "words_per_minute": int(rate),
                    "language": lang,
                    "queries": len(queries),
                    "speech_seconds_p50": float(np.median([len(p) / 32000 for p in audio])),
                    "wer": float(jiwer.wer(refs, hyps)),
                    "final_transcript_p50_s": float(np.percentile(final, 50)),
                    "final_transcript_p95_s": float(np.percentile(final, 95)),
                    "first_audio_p50_s": float(np.percentile(first_audio, 50)) if first_audio else None,
                    "first_audio_p95_s": float(np.percentile(first_audio, 95)) if first_audio else None,
                    "partials_per_query": float(np.mean([r["partials"] for r in rows])),
                    "errors": sorted({c for r in rows for c in r.get("errors", [])}),
                    "misheard": [[q, r.get("transcript", "")] for q, r, h in zip(queries, rows, hyps, strict=True) if normalise(q) != h],
                }
                runs.append(run)
                print(
                    f"{voice}:{rate} lang={lang}: WER {run['wer']:.3f}  final transcript p50 {run['final_transcript_p50_s']:.2f}s "
                    f"p95 {run['final_transcript_p95_s']:.2f}s  first audio p50 {run['first_audio_p50_s'] or 0:.2f}s "
                    f"p95 {run['first_audio_p95_s'] or 0:.2f}s  partials/query {run['partials_per_query']:.1f}  errors {run['errors']}",
                    flush=True,
                )
    print()
    print(f"{'voice':<16}{'lang':<6}{'WER':>7}{'final p50':>11}{'final p95':>11}{'audio p50':>11}{'audio p95':>11}")
    for r in runs:
        print(
            f"{r['voice'] + ':' + str(r['words_per_minute']):<16}{r['language']:<6}{r['wer']:>7.3f}{r['final_transcript_p50_s']:>10.2f}s"
            f"{r['final_transcript_p95_s']:>10.2f}s{(r['first_audio_p50_s'] or 0):>10.2f}s{(r['first_audio_p95_s'] or 0):>10.2f}s"
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, {"runs": runs})
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
