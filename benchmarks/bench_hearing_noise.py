"""Spoken queries in bad conditions: noise at several SNRs, telephone bandwidth, clipping.

Speaks a labelled set (`benchmarks/voice/spoken_en-<set>.tsv`) with one espeak-ng voice and
spoils each utterance in turn: white noise mixed at 20, 10 and 5 dB SNR, a hum-and-chords
"music" bed at 10 dB, 8 kHz telephone audio (down-sampled and back, so the band above 4 kHz is
gone), clipping (the signal amplified 8x and cut at full scale), and rambling (the query in
the middle of about 25 s of talk around it). Each goes through the
production path (catalogue prompt, correction, the agent's ask-back rule) and is scored by what
the shopper meets: the right cards (3 of the top 5 of the asked type), a question back or an
honest "no speech heard" (`NoSpeech`), or wrong cards, the outcome to avoid. Writes
benchmarks/results/hearing-noise-<set>.json.

Usage: python benchmarks/bench_hearing_noise.py [--set dev|test] [--voice en-us+m3:140] [--index PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.errors import NoSpeech  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from assistant.voice.audio import SAMPLE_RATE  # noqa: E402
from assistant.voice.checkpoint import packaged_whisper  # noqa: E402
from assistant.voice.hearing import CatalogueHearing, spoken_search  # noqa: E402
from assistant.voice.transcriber import Transcriber  # noqa: E402
from benchmarks.bench_hearing import HERE, cards_of_type, load_set, save, speak  # noqa: E402
from benchmarks.common import add_index_options, settings_from  # noqa: E402


def _at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    p_speech = float(np.mean(speech**2)) or 1e-12
    p_noise = float(np.mean(noise**2)) or 1e-12
    return (speech + noise * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))).astype(np.float32)


def _music(n: int, rng: np.random.Generator) -> np.ndarray:
    """A mains hum and changing chords: tonal, unlike white noise, as background music is."""
    t = np.arange(n) / SAMPLE_RATE
    bed = 0.5 * np.sin(2 * np.pi * 50 * t)
    for i, root in enumerate(rng.choice([220.0, 261.6, 329.6, 392.0], size=4)):
        seg = (t >= i * t[-1] / 4) & (t < (i + 1) * t[-1] / 4 + 1e-9)
        for ratio in (1.0, 1.25, 1.5):
            bed = bed + seg * np.sin(2 * np.pi * root * ratio * t)
    return bed.astype(np.float32)


def _telephone(x: np.ndarray) -> np.ndarray:
    """Down to 8 kHz and back up: what a phone line leaves (PyAV's resampler filters the band)."""
    import av

    def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
        frame = av.AudioFrame.from_ndarray((np.clip(samples, -1, 1) * 32767).astype("<i2")[None, :], format="s16", layout="mono")
        frame.sample_rate = rate_in
        r = av.AudioResampler(format="s16", layout="mono", rate=rate_out)
        out = [f.to_ndarray().ravel() for f in r.resample(frame)] + [f.to_ndarray().ravel() for f in r.resample(None)]
        return np.concatenate(out).astype(np.float32) / 32768.0

    return resample(resample(x, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)


# A shopper who talks around the request: the query said in the middle of about 25 s of speech.
RAMBLE_BEFORE = (
    "Hi there, good morning. So I was talking to my sister yesterday and she said I should ask you, because we are going "
    "to a family wedding next month, and honestly I have been looking around for ages without any luck. Anyway, what I need is"
)
RAMBLE_AFTER = "and it would be lovely if it could arrive before the weekend. Thank you so much, that's all for now."


def conditions(rng: np.random.Generator, voice: str, rate: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    before, after = speak(RAMBLE_BEFORE, voice, rate), speak(RAMBLE_AFTER, voice, rate)
    return {
        "clean": lambda x: x,
        "white noise 20 dB": lambda x: _at_snr(x, rng.normal(size=x.size).astype(np.float32), 20),
        "white noise 10 dB": lambda x: _at_snr(x, rng.normal(size=x.size).astype(np.float32), 10),
        "white noise 5 dB": lambda x: _at_snr(x, rng.normal(size=x.size).astype(np.float32), 5),
        "music 10 dB": lambda x: _at_snr(x, _music(x.size, rng), 10),
        "telephone 8 kHz": _telephone,
        "clipped (8x)": lambda x: np.clip(x * 8.0, -1.0, 1.0).astype(np.float32),
        "rambling, about 25 s": lambda x: np.concatenate([before, x, after]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    add_index_options(ap)
    ap.add_argument("--set", default="dev", choices=["dev", "test"])
    ap.add_argument("--voice", default="en-us+m3:140", help="espeak-ng voice:wpm")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    s = settings_from(a)
    retriever = build_retriever(s)
    hearing = CatalogueHearing(retriever.vocabulary)
    transcriber = Transcriber(packaged_whisper(s.data_dir / "models"), prompt=hearing.prompt(), hearing=hearing)
    queries = load_set(HERE / "voice" / f"spoken_en-{a.set}.tsv")
    voice, rate = a.voice.rsplit(":", 1)
    clean = [speak(q, voice, int(rate)) for q, _ in queries]

    rows, results = [], []
    for name, spoil in conditions(np.random.default_rng(11), voice, int(rate)).items():
        counts = {"right": 0, "asked": 0, "no_speech": 0, "wrong": 0}
        secs = []
        for (q, t), samples in zip(queries, clean, strict=True):
            t0 = time.perf_counter()
            logprob = None
            try:
                tr = transcriber.transcribe(spoil(samples), "en")
            except NoSpeech:
                outcome, heard = "no_speech", ""
            else:
                logprob = tr.logprob
                run_on = spoken_search(tr.doubt, tr.query, retriever.vocabulary)  # as the agent decides
                heard = run_on or tr.query
                if run_on is None:
                    outcome = "asked"
                else:
                    outcome = "right" if cards_of_type(retriever, run_on, t) else "wrong"
            secs.append(time.perf_counter() - t0)
            counts[outcome] += 1
            results.append({"condition": name, "query": q, "article_type": t, "heard": heard, "outcome": outcome, "logprob": logprob})
        n = len(queries)
        rows.append({"condition": name, "n": n, **{k: v / n for k, v in counts.items()}, "transcribe_s_p50": float(np.percentile(secs, 50))})
    print(f"set {a.set}, voice {a.voice}: {len(queries)} queries per condition")
    print(f"{'condition':<20}{'right cards':>13}{'asked back':>12}{'no speech':>11}{'wrong cards':>13}{'p50':>8}")
    for r in rows:
        print(f"{r['condition']:<20}{r['right']:>13.0%}{r['asked']:>12.0%}{r['no_speech']:>11.0%}{r['wrong']:>13.0%}{r['transcribe_s_p50']:>7.2f}s")
    save(a.out or HERE / "results" / f"hearing-noise-{a.set}.json", {"set": a.set, "voice": a.voice, "rows": rows, "results": results})


if __name__ == "__main__":
    main()
