"""Query latency per fusion mode on an ingested index (default: the KAGL collection).

Runs the dev query set's text and photo queries through the real retriever (model encoding
included) and prints p50/p95/p99 per mode and query kind, with each mode's p50 as a ratio
of the `bm25` mode's p50 measured in the same run (these machines are noisy; ratios are
comparable across runs, milliseconds less so). Writes benchmarks/results/query_latency.json.

Usage: python benchmarks/bench_query.py [--index PATH] [--collection NAME] [--repeat N] [--queries FILE]
(`--queries benchmarks/queries/kagl-zh-test.jsonl`: the Chinese text queries)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.encoders.images import load_image  # noqa: E402
from assistant.evaluation import load_query_set  # noqa: E402
from assistant.retrieval.search import FUSION_MODES, SearchRequest  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    add_index_options(ap)
    ap.add_argument("--queries", type=Path, default=Path(__file__).parent / "queries" / "kagl-dev.jsonl")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "query_latency.json")
    a = ap.parse_args()
    s = settings_from(a)
    t0 = time.perf_counter()
    retriever = build_retriever(s)
    retriever.vocabulary  # noqa: B018 - read the facets once, outside the timings
    load_s = time.perf_counter() - t0
    queries = load_query_set(a.queries)
    images = {q.id: load_image(q.image) for q in queries if q.image}
    # Warm-up: first calls trace the image tower, fill caches and load the Chinese bridge.
    retriever.search(SearchRequest(text="black shoes", image=next(iter(images.values()), None)))
    retriever.search(SearchRequest(text="黑色的鞋"))
    rows = []
    for kind in ("text", "photo", "photo+text"):
        qs = [q for q in queries if q.kind == kind]
        if not qs:
            continue  # a set of text queries only (the Chinese sets)
        for mode in FUSION_MODES:
            if kind == "photo" and mode in ("bm25", "text"):
                continue
            if mode == "attention" and (kind != "photo+text" or retriever.attention is None):
                continue  # it reads a photo and words together, with its trained model
            times = []
            for _ in range(a.repeat):
                for q in qs:
                    t = time.perf_counter()
                    retriever.search(SearchRequest(text=q.text, image=images.get(q.id), filters=q.filters, fusion=mode, k=10, pinned=True))
                    times.append((time.perf_counter() - t) * 1e3)
            rows.append(
                {
                    "kind": kind,
                    "mode": mode,
                    "n": len(times),
                    "p50_ms": float(np.percentile(times, 50)),
                    "p95_ms": float(np.percentile(times, 95)),
                    "p99_ms": float(np.percentile(times, 99)),
                    "mean_ms": statistics.fmean(times),
                }
            )
    base_mode = {"text": "bm25", "photo": "clip", "photo+text": "clip"}
    base = {r["kind"]: r["p50_ms"] for r in rows if r["mode"] == base_mode[r["kind"]]}
    for r in rows:
        r["p50_vs_baseline"] = r["p50_ms"] / base[r["kind"]]
    print(f"{'kind':<11} {'mode':<7} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p50/base':>9}")
    for r in rows:
        print(f"{r['kind']:<11} {r['mode']:<7} {r['n']:>4} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['p50_vs_baseline']:>9.2f}")
    print("baseline: bm25 mode for text queries, clip mode for queries with a photo (same run)")
    count = retriever.index.count(s.collection)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(a.out, {"collection": s.collection, "points": count, "model_load_s": load_s, "rows": rows})
    print(f"{count} points; models loaded in {load_s:.1f} s; wrote {a.out}")


if __name__ == "__main__":
    main()
