"""Spoken queries in several voices: does the assistant hear the catalogue's words?

Speaks each query of a labelled set (`benchmarks/voice/spoken_en-dev.tsv` to tune on,
`spoken_en-test.tsv` held out, `spoken_en-fresh.tsv` a later held-out set) with espeak-ng in several voices and speeds, transcribes it
with the packaged Whisper base (English declared) under two prompts of the same run, each
scored as heard and corrected against the catalogue (`assistant/voice/hearing.py`):

- `fixed prompt`: the hand-made shop-word prompt (as heard: the earlier behaviour);
- `catalogue prompt`: the catalogue's 25 most frequent article types; its corrected transcript
  is also heard again where it names no kind of product (`assistant/voice/rehearing.py`), and
  `re-heard` scores what the agent then searches: the re-heard reading where Whisper is sure
  of it, else the corrected transcript (or a question).

For each: WER against the typed text (jiwer; lower case, punctuation dropped) and the share of
queries whose top-5 cards are mostly (3 of 5) of the asked article type, with the typed text's
share as the reference of the same run. The corrected set-ups also say what a shopper meets
when the assistant asks back about an unsure word (`Agent._ask_back`): the right cards, a
question (and whether its suggestion finds the right cards on a yes), or wrong cards. Writes benchmarks/results/hearing-<set>.json.

Usage: python benchmarks/bench_hearing.py [--set dev|test|fresh] [--voices en-us:175,en-gb:160,en-us+f3:150,en-us+m3:140] [--index PATH]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.retrieval.search import Retriever, SearchRequest  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from assistant.voice.audio import SAMPLE_RATE, AudioLimits, decode  # noqa: E402
from assistant.voice.checkpoint import packaged_whisper  # noqa: E402
from assistant.voice.hearing import CatalogueHearing, spoken_search  # noqa: E402
from assistant.voice.transcriber import DEFAULT_PROMPT, Transcriber  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402

HERE = Path(__file__).resolve().parent
VOICES = "en-us:175,en-gb:160,en-us+f3:150,en-us+m3:140"  # espeak-ng's default, British, a female US voice, the README's


def speak(text: str, voice: str, rate: int) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "--stdout", text], capture_output=True, check=True).stdout
    pad = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)  # a breath before and after, as a microphone hears it
    return np.concatenate([pad, decode(wav, "wav", AudioLimits()), pad])


def words(text: str) -> str:
    text = text.lower().replace("-", " ")
    return " ".join(re.sub(r"[^\w$' ]", " ", text).split())


def cards_of_type(retriever: Retriever, text: str, article_type: str) -> bool:
    """Whether the top 5 cards of `text` are mostly (3 of 5) of the asked article type."""
    hits = retriever.search(SearchRequest(text=text, k=5)).hits if text.strip() else []
    return sum(h.product.category == article_type for h in hits) >= 3


def load_set(path: Path) -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [(q, t) for q, t in rows]


def main() -> None:
    import jiwer

    ap = argparse.ArgumentParser()
    add_index_options(ap)
    ap.add_argument("--set", default="dev", choices=["dev", "test", "fresh"])
    ap.add_argument("--voices", default=VOICES, help="espeak-ng voice:wpm, comma-separated")
    ap.add_argument("--limit", type=int, help="only the first N queries")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    s = settings_from(a)
    retriever = build_retriever(s)
    hearing = CatalogueHearing(retriever.vocabulary)
    model_dir = packaged_whisper(s.data_dir / "models")
    prompts = {"fixed": DEFAULT_PROMPT, "catalogue": hearing.prompt()}
    # Only the catalogue prompt (the default) is heard again: the fixed prompt's rows are the earlier behaviour.
    transcribers = {name: Transcriber(model_dir, prompt=prompt, hearing=hearing, rehear=name == "catalogue") for name, prompt in prompts.items()}
    queries = load_set(HERE / "voice" / f"spoken_en-{a.set}.tsv")[: a.limit]

    def type_ok(text: str, article_type: str) -> bool:
        return cards_of_type(retriever, text, article_type)

    typed = sum(type_ok(q, t) for q, t in queries) / len(queries)
    setups = [*(f"{p} prompt{', corrected' if c else ''}" for p in prompts for c in (False, True)), "catalogue prompt, re-heard"]
    results = []
    for spec in a.voices.split(","):
        voice, rate = spec.rsplit(":", 1)
        for q, t in queries:
            samples = speak(q, voice, int(rate))
            row: dict = {"voice": spec, "query": q, "article_type": t, "heard": {}, "seconds": {}, "type_ok": {}, "corrections": {}, "doubtful": {}}
            for name, tr_ in transcribers.items():
                t0 = time.perf_counter()
                tr = tr_.transcribe(samples, "en")
                row["seconds"][name] = time.perf_counter() - t0
                for corrected in (False, True):
                    setup = f"{name} prompt{', corrected' if corrected else ''}"
                    text = tr.query if corrected else tr.text
                    row["heard"][setup] = text
                    row["type_ok"][setup] = type_ok(text, t)
                # As the agent decides (`Agent._turn`): an unsure word in a search naming no kind of
                # product is asked about, or, re-heard and sure, the re-heard reading is searched.
                run_on = spoken_search(tr.doubt, tr.query, retriever.vocabulary)
                asks = run_on is None
                row.setdefault("asked", {})[name] = asks
                if name == "catalogue":
                    row["heard"]["catalogue prompt, re-heard"] = run_on or tr.query
                    row["type_ok"]["catalogue prompt, re-heard"] = type_ok(run_on or tr.query, t)
                    row["reheard"] = tr.reheard.__dict__ if tr.reheard else None
                row.setdefault("suggestion_ok", {})[name] = bool(asks and tr.doubt and tr.doubt.query and type_ok(tr.doubt.query, t))
                row["corrections"][name] = [c.__dict__ for c in tr.corrections]
                row["doubtful"][name] = list(tr.doubtful)
                row.setdefault("words", {})[name] = [(w.text, round(w.probability, 3)) for w in tr.words]
                row.setdefault("logprob", {})[name] = tr.logprob
            results.append(row)
    rows = []
    for spec in [*a.voices.split(","), "pooled"]:
        mine = [r for r in results if spec in ("pooled", r["voice"])]
        for setup in setups:
            prompt = setup.split()[0]
            rows.append({
                "voice": spec, "setup": setup, "n": len(mine),
                "wer": jiwer.wer([words(r["query"]) for r in mine], [words(r["heard"][setup]) or "∅" for r in mine]),
                "type_match": sum(r["type_ok"][setup] for r in mine) / len(mine), "typed_type_match": typed,
                "transcribe_s_p50": float(np.percentile([r["seconds"][prompt] for r in mine], 50)),
            })  # fmt: skip
            if setup in ("fixed prompt, corrected", "catalogue prompt, re-heard"):
                # What the shopper meets: right cards, a question back (its suggestion right or not), or wrong cards.
                asked = [r for r in mine if r["asked"][prompt]]
                searched = [r for r in mine if not r["asked"][prompt]]
                rows[-1].update({
                    "asked_back": len(asked) / len(mine),
                    "asked_back_suggestion_right": sum(r["suggestion_ok"][prompt] for r in asked) / len(mine),
                    "searched_right": sum(r["type_ok"][setup] for r in searched) / len(mine),
                    "searched_wrong": sum(not r["type_ok"][setup] for r in searched) / len(mine),
                })  # fmt: skip
    print(f"set {a.set}: {len(queries)} queries; typed text finds the asked type for {typed:.0%}")
    asking = "   asking back: right cards / asked (suggestion right) / wrong cards"
    print(f"{'voice':<16}{'set-up':<30}{'WER':>7}{'cards of the type':>19}{'transcribe p50':>16}{asking}")
    for r in rows:
        p50 = f"{r['transcribe_s_p50']:.2f} s"
        ask = ""
        if "asked_back" in r:
            ask = f"   {r['searched_right']:.0%} / {r['asked_back']:.0%} ({r['asked_back_suggestion_right']:.0%}) / {r['searched_wrong']:.0%}"
        print(f"{r['voice']:<16}{r['setup']:<30}{r['wer']:>7.3f}{r['type_match']:>19.0%}{p50:>16}{ask}")
    save(a.out or HERE / "results" / f"hearing-{a.set}.json", {"set": a.set, "voices": a.voices, "rows": rows, "results": results})


def save(out: Path, body: dict) -> None:
    """The run's JSON (with its provenance), and where it went."""
    write_result(out, body, ensure_ascii=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
