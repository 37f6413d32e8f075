"""Mandarin voice: character error rate and whether spoken queries find the asked article type.

Speaks the first N queries of the held-out Chinese text set (`kagl-zh-test.jsonl`) with
espeak-ng's Mandarin voice (pinyin with tone numbers from pypinyin), transcribes them with the
packaged Whisper base (language declared `zh`, and detected), runs each transcript through
the retriever on the ingested index, and reports: CER (jiwer, punctuation and spaces
removed), the share of queries whose top-5 cards are mostly (3 of 5) of the asked article
type, the same share for the typed text as the reference of the same run, and transcription
time. Writes benchmarks/results/voice_zh.json.

Usage: python benchmarks/bench_voice_zh.py [--n 24] [--rates 110,140] [--index PATH]
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluation import load_query_set  # noqa: E402
from assistant.language.text import normalise  # noqa: E402
from assistant.retrieval.search import SearchRequest  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from assistant.voice.speech import MANDARIN_VOICE, pinyin  # noqa: E402
from assistant.voice.transcriber import load_transcriber  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402


def speak(text: str, rate: int) -> np.ndarray:
    """espeak-ng Mandarin → float32 samples at 16 kHz (PyAV resamples)."""
    import av

    wav = subprocess.run(["espeak-ng", "-v", MANDARIN_VOICE, "-s", str(rate), "--stdout"], input=pinyin(text).encode(),
                         capture_output=True, check=True).stdout  # fmt: skip
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    chunks = [g.to_ndarray().ravel() for f in av.open(io.BytesIO(wav)).decode(audio=0) for g in resampler.resample(f)]
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def _chars(text: str) -> str:
    return re.sub(r"[\W_]+", "", normalise(text))


def main() -> None:
    import jiwer

    ap = argparse.ArgumentParser()
    add_index_options(ap)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--rates", default="110,140", help="espeak-ng words per minute, comma-separated")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "voice_zh.json")
    a = ap.parse_args()
    s = settings_from(a)
    retriever = build_retriever(s)
    transcriber = load_transcriber(s.data_dir / "models")
    queries = [q for q in load_query_set(Path(__file__).parent / "queries" / "kagl-zh-test.jsonl") if q.text][: a.n]

    def type_ok(text: str, article_type: str | None) -> bool:
        if not text.strip():
            return False
        hits = retriever.search(SearchRequest(text=text, k=5)).hits
        return sum(h.product.category == article_type for h in hits) >= 3

    reference = sum(type_ok(q.text or "", q.article_type) for q in queries) / len(queries)
    rows, results = [], []
    for rate in (int(r) for r in a.rates.split(",")):
        for language in ("zh", None):
            refs, hyps, oks, secs = [], [], [], []
            for q in queries:
                samples = speak(q.text or "", rate)
                t0 = time.perf_counter()
                try:
                    tr = transcriber.transcribe(samples, language)
                    text, heard = tr.query, tr.language
                except Exception as e:  # noqa: BLE001 - a failed utterance counts as all wrong, and is listed
                    text, heard = "", f"error: {type(e).__name__}"
                secs.append(time.perf_counter() - t0)
                ok = type_ok(text, q.article_type)
                refs.append(_chars(q.text or ""))
                hyps.append(_chars(text) or "∅")
                oks.append(ok)
                results.append({"rate": rate, "language": language or "detect", "query": q.text, "heard": text, "detected": heard, "type_ok": ok})
            row = {"rate": rate, "language": language or "detect", "n": len(queries), "cer": jiwer.cer(refs, hyps),
                   "type_match": sum(oks) / len(oks), "typed_type_match": reference,
                   "transcribe_s_p50": float(np.percentile(secs, 50)), "transcribe_s_p95": float(np.percentile(secs, 95))}  # fmt: skip
            rows.append(row)
    print(f"{'espeak wpm':>10} {'language':>9} {'n':>3} {'CER':>6} {'cards of the type':>17} {'typed text':>11} {'transcribe p50/p95':>19}")
    for r in rows:
        print(f"{r['rate']:>10} {r['language']:>9} {r['n']:>3} {r['cer']:>6.3f} {r['type_match']:>17.0%} {r['typed_type_match']:>11.0%}"
              f" {r['transcribe_s_p50']:>8.2f} / {r['transcribe_s_p95']:.2f} s")  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, {"rows": rows, "results": results}, ensure_ascii=False)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
