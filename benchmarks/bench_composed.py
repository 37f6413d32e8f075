"""Photo + words ("like this but in red", "same but for women", "this in leather"): fusion
modes compared on a composed query set, overall and per kind of change.

Sets from `make_composed_queries.py`: `kagl-composed-dev.jsonl` (choices are made on it) and
`kagl-composed-test.jsonl` (held out). Each query is a hold-out photo, the words of the
change, graded answers from the catalogue's attributes and the photo's article type; the
photo's own product is excluded. Scores: precision@10 by article type and graded nDCG@10.

Rows: early, late, hybrid and attention fusion as configured, and each of hybrid and attention
without the vote on the photo's kind (`FusionConfig.photo_kind_vote`), so what each part
adds is seen. Attention rows need the trained model (`shop-assistant train-fusion`).

Usage: python benchmarks/bench_composed.py --set dev|test [--modes early late hybrid attention] [--index PATH] [--out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluation import ndcg_at_k  # noqa: E402
from assistant.index.base import Filters  # noqa: E402
from assistant.retrieval.search import SearchRequest  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROWS = (("early", True), ("late", True), ("hybrid", False), ("hybrid", True), ("attention", False), ("attention", True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_index_options(ap)
    ap.add_argument("--set", choices=("dev", "test"), default="dev")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--modes", nargs="+", default=["early", "late", "hybrid", "attention"], help="which modes' rows to run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "composed.json")
    a = ap.parse_args()
    retriever = build_retriever(settings_from(a))
    defaults = retriever.config
    queries = [json.loads(line) for line in (HERE / "queries" / f"kagl-composed-{a.set}.jsonl").read_text().splitlines() if line.strip()]
    queries = queries[: a.limit or None]
    images = {q["id"]: Image.open(ROOT / q["image"]).convert("RGB") for q in queries}
    results = []
    for mode, vote in ROWS:
        if mode not in a.modes:
            continue
        if mode == "attention" and retriever.attention is None:
            print("attention: no trained model (shop-assistant train-fusion); skipped")
            continue
        retriever.config = defaults if vote else replace(defaults, photo_kind_vote=0.0)
        per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
        times = []
        for q in tqdm(queries, desc=f"{mode}{'' if vote else ' (no vote)'}", unit="query"):
            t0 = time.perf_counter()
            resp = retriever.search(SearchRequest(text=q["text"], image=images[q["id"]], filters=Filters(**q["filters"]), fusion=mode, k=10))
            times.append(time.perf_counter() - t0)
            top = [h.product.category for h in resp.hits]
            p10 = sum(t == q["article_type"] for t in top) / 10
            nd = ndcg_at_k([h.product_id for h in resp.hits], q["relevant"], 10)
            per_kind[q["change"]].append((p10, nd))
            per_kind["all"].append((p10, nd))
        row = {
            "mode": mode,
            "vote": vote and defaults.photo_kind_vote > 0,
            "p50_ms": sorted(times)[len(times) // 2] * 1e3,
            "by_change": {
                k: {"n": len(v), "p_at_10": statistics.fmean(x for x, _ in v), "ndcg_10": statistics.fmean(y for _, y in v)}
                for k, v in per_kind.items()
            },
        }
        results.append(row)
    retriever.config = defaults
    kinds = ["all", "colour", "gender", "usage", "material"]
    print(f"\n{a.set} composed set, {len(queries)} queries: precision@10 by type / nDCG@10")
    print(f"{'mode':<22}" + "".join(f"{k:>16}" for k in kinds) + f"{'p50 ms':>9}")
    for r in results:
        name = f"{r['mode']}{'' if r['vote'] else ' (no vote)'}"
        got = r["by_change"]
        cells = "".join(f"{got[k]['p_at_10']:>8.3f}/{got[k]['ndcg_10']:.3f}" if k in got else f"{'-':>16}" for k in kinds)
        print(f"{name:<22}{cells}{r['p50_ms']:>9.0f}")
    write_result(a.out, {"set": a.set, "queries": len(queries), "rows": results})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
