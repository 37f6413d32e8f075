"""Photo + words ("like this but in red", "same but for women", "this in leather"): fusion
modes compared on a composed query set, overall and per kind of change.

Sets from `make_composed_queries.py`: `kagl-composed-dev.jsonl` (choices are made on it) and
`kagl-composed-test.jsonl` (held out). Each query is a hold-out photo, the words of the
change, graded answers from the catalogue's attributes and the photo's article type; the
photo's own product is excluded. Scores: precision@10 by article type and graded nDCG@10.

Rows: early, late, hybrid and attention fusion as they rank, without the head's votes on the
photo's kind, gender and colour (`FusionConfig.photo_votes`) and without the tiers that keep the
photo's traits (`FusionConfig.photo_words_keep`, `retrieval.composed`); then hybrid and
attention with the kind vote as configured and a grid of gender and colour vote weights
(applied to each query's top 200, an attribute the words set as a filter not voted on); then
hybrid and attention with the tiers (`--keep`: the configured tiers, the same without the fill
of the photo's kind (`FusionConfig.photo_kind_fill`), and for attention each tier left out in
turn); then the defaults end to end (no mode named: a photo with words runs
in `FusionConfig.photo_words_fusion`).
Attention rows need the trained model (`shop-assistant train-fusion`).

Usage: python benchmarks/bench_composed.py --set dev|test [--modes early late hybrid attention] [--no-keep] [--index PATH] [--out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluation import ndcg_at_k  # noqa: E402
from assistant.index.base import Filters  # noqa: E402
from assistant.retrieval import fusion as fz  # noqa: E402
from assistant.retrieval.search import SearchRequest  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KINDS = ["all", "colour", "gender", "usage", "material"]
SAID = {"kind": ("article_type", "category"), "gender": ("gender",), "colour": ("colour",)}


def score(hits: list[tuple[str, str | None]], q: dict) -> tuple[float, float]:
    """(precision@10 by type, graded nDCG@10) of a ranked list of (id, article type)."""
    p10 = sum(t == q["article_type"] for _, t in hits[:10]) / 10
    return p10, ndcg_at_k([i for i, _ in hits], q["relevant"], 10)


def summarise(per_query: list[tuple[str, float, float]]) -> dict:
    out = {}
    for k in KINDS:
        rows = [(p, n) for kind, p, n in per_query if k in ("all", kind)]
        if rows:
            out[k] = {"n": len(rows), "p_at_10": statistics.fmean(p for p, _ in rows), "ndcg_10": statistics.fmean(n for _, n in rows)}
    return out


def cells(got: dict) -> str:
    return "".join(f"{got[k]['p_at_10']:>8.3f}/{got[k]['ndcg_10']:.3f}" if k in got else f"{'-':>16}" for k in KINDS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_index_options(ap)
    ap.add_argument("--set", choices=("dev", "test"), default="dev")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--modes", nargs="+", default=["early", "late", "hybrid", "attention"], help="which modes to run")
    ap.add_argument("--gender-votes", nargs="+", type=float, default=[0.0, 0.25, 0.5, 1.0])
    ap.add_argument("--colour-votes", nargs="+", type=float, default=[0.0, 0.25, 0.5, 1.0])
    ap.add_argument("--keep", action=argparse.BooleanOptionalAction, default=True, help="run the tier rows (--no-keep: skip)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "composed.json")
    a = ap.parse_args()
    retriever = build_retriever(settings_from(a))
    defaults = retriever.config
    queries = [json.loads(line) for line in (HERE / "queries" / f"kagl-composed-{a.set}.jsonl").read_text().splitlines() if line.strip()]
    queries = queries[: a.limit or None]
    images = {q["id"]: Image.open(ROOT / q["image"]).convert("RGB") for q in queries}
    rows = []
    for mode in a.modes:
        if mode == "attention" and retriever.attention is None:
            print("attention: no trained model (shop-assistant train-fusion); skipped")
            continue
        # each mode's list as it comes, without votes; the votes are applied here, on its top 200
        retriever.config = replace(defaults, photo_votes={}, photo_words_keep=())
        lists, times = [], []
        for q in tqdm(queries, desc=mode, unit="query"):
            t0 = time.perf_counter()
            req = SearchRequest(text=q["text"], image=images[q["id"]], filters=Filters(**q["filters"]), fusion=mode, k=200, pinned=True)
            resp = retriever.search(req)
            times.append(time.perf_counter() - t0)
            said = {m["field"] for m in resp.understood}
            lists.append((q, said, resp.hits))
        base = [(q["change"], *score([(h.product_id, h.product.category) for h in hits], q)) for q, _, hits in lists]
        rows.append({"mode": mode, "votes": {}, "p50_ms": sorted(times)[len(times) // 2] * 1e3, "by_change": summarise(base)})
        if mode not in ("hybrid", "attention"):
            continue  # the votes are the photo modes' (`Retriever._vote`)
        for g in a.gender_votes:
            for c in a.colour_votes:
                votes = {"kind": defaults.photo_votes.get("kind", 0.0), "gender": g, "colour": c}
                per_query = []
                for q, said, hits in lists:
                    fused = [fz.Fused(h.product_id, h.score, {}) for h in hits]
                    values = {"kind": {h.product_id: h.product.category for h in hits}, "gender": {h.product_id: h.product.gender for h in hits}}
                    values["colour"] = {h.product_id: h.product.colour for h in hits}
                    attrs = {n: (values[n], w) for n, w in votes.items() if w > 0 and not said & set(SAID[n])}
                    ranked, _ = fz.head_vote(fused, attrs, defaults.photo_vote_depth)
                    kinds = values["kind"]
                    per_query.append((q["change"], *score([(f.id, kinds[f.id]) for f in ranked], q)))
                rows.append({"mode": mode, "votes": votes, "by_change": summarise(per_query)})
    # the tiers: each mode's list with the photo's traits kept, as configured, without the kind's
    # fill (`FusionConfig.photo_kind_fill`), and (attention) with one tier left out
    tiers = [tuple(defaults.photo_words_keep)]
    tiers += [tuple(t for t in tiers[0] if t != out) for out in tiers[0]]
    for mode in [m for m in a.modes if m in ("hybrid", "attention")] if a.keep else []:
        if mode == "attention" and retriever.attention is None:
            continue
        runs = [(tiers[0], True), (tiers[0], False)] + ([(keep, True) for keep in tiers[1:]] if mode == "attention" else [])
        for keep, fill in runs:
            retriever.config = replace(defaults, photo_words_keep=keep, photo_kind_fill=fill and defaults.photo_kind_fill)
            per_query, times = [], []
            for q in tqdm(queries, desc=f"{mode} keep {'/'.join(keep)}{'' if fill else ' no fill'}", unit="query"):
                t0 = time.perf_counter()
                resp = retriever.search(
                    SearchRequest(text=q["text"], image=images[q["id"]], filters=Filters(**q["filters"]), fusion=mode, k=10, pinned=True)
                )
                times.append(time.perf_counter() - t0)
                per_query.append((q["change"], *score([(h.product_id, h.product.category) for h in resp.hits], q)))
            p50 = sorted(times)[len(times) // 2] * 1e3
            row = {"mode": mode, "votes": dict(defaults.photo_votes), "keep": list(keep), "fill": fill}
            rows.append({**row, "p50_ms": p50, "by_change": summarise(per_query)})
    retriever.config = defaults
    # the defaults, end to end: a photo with words as a shopper sends it (no mode named)
    e2e = {}
    per_query, ran = [], set()
    for q in tqdm(queries, desc="defaults", unit="query"):
        resp = retriever.search(SearchRequest(text=q["text"], image=images[q["id"]], filters=Filters(**q["filters"]), k=10))
        ran.add(resp.fusion)
        per_query.append((q["change"], *score([(h.product_id, h.product.category) for h in resp.hits], q)))
    e2e["+".join(sorted(ran))] = summarise(per_query)

    print(f"\n{a.set} composed set, {len(queries)} queries: precision@10 by type / nDCG@10")
    print(f"{'mode':<12}{'votes k/g/c':<16}" + "".join(f"{k:>16}" for k in KINDS))
    for r in rows:
        v = r["votes"]
        name = f"{v.get('kind', 0):g}/{v.get('gender', 0):g}/{v.get('colour', 0):g}" if v else "none"
        if "keep" in r:
            name = "keep " + "/".join(t[0] for t in r["keep"]) + ("" if r.get("fill", True) else " -fill")  # k(ind) w(ords) g(ender) c(olour)
        print(f"{r['mode']:<12}{name:<16}" + cells(r["by_change"]))
    for mode, got in e2e.items():
        print(f"{mode:<12}{'(defaults)':<16}" + cells(got))
    print(
        f"defaults: votes {dict(defaults.photo_votes)}, depth {defaults.photo_vote_depth}, photo + words run in "
        f"{defaults.photo_words_fusion}, keeping {'/'.join(defaults.photo_words_keep) or 'nothing'}"
    )
    used = {
        "votes": dict(defaults.photo_votes),
        "depth": defaults.photo_vote_depth,
        "photo_words_fusion": defaults.photo_words_fusion,
        "photo_words_keep": list(defaults.photo_words_keep),
        "photo_kind_fill": defaults.photo_kind_fill,
    }
    write_result(a.out, {"set": a.set, "queries": len(queries), "defaults": used, "rows": rows, "end_to_end": e2e})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
