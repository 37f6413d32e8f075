"""Photo search: does a shopper's photo bring back products of its kind, studio shot or not.

The photo hold-out (`queries/kagl-photo-holdout.jsonl`: 932 products whose photos the
catalogue CLIP never trained on) split as `bench_video.py` splits it: the first half is the
dev set (choices are made on it), the second half the held-out test set. Each photo is
searched as the studio took it and as one shopper's photo made from it (`photo_variants.py`:
on a backdrop, rotated, cropped, or a photo of a screen), the product itself excluded, hybrid
fusion. Score: precision@10 by article type (the share of the top 10 of the photo's type).

Per query photo, the ways of reading it (`--views`):
- `plain`: the photo as sent;
- `mirror`: the mean of the photo's and its mirror image's vectors (test-time flip);
- `framed`: the mean of the photo's and its framed version's (`encoders.framing`: the product
  cropped and set on white) where a product stands out from one backdrop;
- `framed+mirror`: both (`retrieval.photo.views` reads the same images).
and the weights of the head's vote on the photo's kind (`--votes`, `fusion.kind_vote`),
applied to each view's top 200. The last row runs the defaults end to end
(`SearchRequest(image=...)`), which must match its grid cell for studio photos; where the photo
tower runs (`clip.photo_tower`, reading shoppers' photos), again without it: the baseline of
the same run.

Usage: python benchmarks/bench_photo.py --set dev|test [--limit N] [--index PATH] [--out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.encoders.base import l2_normalise  # noqa: E402
from assistant.encoders.framing import frame_product  # noqa: E402
from assistant.index.base import Filters  # noqa: E402
from assistant.retrieval import fusion as fz  # noqa: E402
from assistant.retrieval.search import SearchRequest  # noqa: E402
from assistant.runtime import build_retriever  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402
from benchmarks.photo_variants import KINDS, variant  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOLDOUT = HERE / "queries" / "kagl-photo-holdout.jsonl"
CONDITIONS = ("studio", *KINDS)
VIEWS = ("plain", "mirror", "framed", "framed+mirror")


def holdout(which: str) -> list[dict]:
    rows = [json.loads(line) for line in HOLDOUT.read_text().splitlines() if line.strip()]
    half = len(rows) // 2
    return rows[:half] if which == "dev" else rows[half:]


def view_vectors(retriever, image: Image.Image) -> dict[str, np.ndarray]:  # noqa: ANN001
    framed = frame_product(image)
    framed = framed if framed.isolated and not framed.studio else replace(framed, isolated=False)
    shots = [image, ImageOps.mirror(image)]
    if framed.isolated:
        shots += [framed.image, ImageOps.mirror(framed.image)]
    v = retriever.clip.encode_image(shots)
    out = {"plain": v[0], "mirror": l2_normalise(v[0] + v[1])}
    out["framed"] = l2_normalise(v[0] + v[2]) if framed.isolated else v[0]
    out["framed+mirror"] = l2_normalise(v[0] + v[1] + v[2] + v[3]) if framed.isolated else out["mirror"]
    return out


def type_precision(categories: list[str | None], want: str) -> float:
    return sum(c == want for c in categories[:10]) / 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_index_options(ap)
    ap.add_argument("--set", choices=("dev", "test"), default="dev")
    ap.add_argument("--limit", type=int, default=0, help="first N photos of the set only")
    ap.add_argument("--views", nargs="+", choices=VIEWS, default=list(VIEWS))
    ap.add_argument("--votes", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0, 1.5])
    ap.add_argument("--depths", nargs="+", type=int, default=[10, 20, 40])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "photo.json")
    a = ap.parse_args()

    retriever = build_retriever(settings_from(a))
    c = retriever.config
    # the grid applies each vote itself, to the list as it comes without one
    retriever.config = replace(c, photo_votes={})
    rows = holdout(a.set)[: a.limit or None]
    # per (condition, view): per query, the top 200's (id, score, category)
    tops: dict[tuple[str, str], list[tuple[str, list[tuple[str, float, str | None]]]]] = {}
    encode_s: list[float] = []
    for r in tqdm(rows, desc=f"photos ({a.set})", unit="photo"):
        pid = r["id"].removeprefix("h")
        studio = Image.open(ROOT / r["image"]).convert("RGB")
        for cond in CONDITIONS:
            image = studio if cond == "studio" else variant(studio, pid, cond, a.seed)
            t0 = time.perf_counter()
            vecs = view_vectors(retriever, image)
            encode_s.append(time.perf_counter() - t0)
            for view in a.views:
                resp = retriever.search(SearchRequest(image_vector=vecs[view], filters=Filters(exclude_product_ids=[pid]), k=200, understand=False))
                tops.setdefault((cond, view), []).append((r["article_type"], [(h.point_id, h.score, h.product.category) for h in resp.hits]))

    grid = []
    for (cond, view), per_query in tops.items():
        for vote in a.votes:
            for depth in a.depths if vote > 0 else [0]:
                ps = []
                for want, hits in per_query:
                    fused = [fz.Fused(i, s, {}) for i, s, _ in hits]
                    kinds = {i: k for i, _, k in hits}
                    ranked, _ = fz.kind_vote(fused, kinds, depth, vote)
                    ps.append(type_precision([kinds[f.id] for f in ranked], want))
                grid.append({"condition": cond, "view": view, "vote": vote, "depth": depth, "p_at_10": statistics.fmean(ps)})

    # the defaults, end to end, as a shopper's photo reaches search
    retriever.config = c

    def end_to_end(label: str) -> tuple[dict[str, float], list[float]]:
        got: dict[str, float] = {}
        seconds: list[float] = []
        for cond in CONDITIONS:
            ps = []
            for r in tqdm(rows, desc=f"end to end{label} ({cond})", unit="photo"):
                pid = r["id"].removeprefix("h")
                studio = Image.open(ROOT / r["image"]).convert("RGB")
                image = studio if cond == "studio" else variant(studio, pid, cond, a.seed)
                t0 = time.perf_counter()
                resp = retriever.search(SearchRequest(image=image, filters=Filters(exclude_product_ids=[pid]), k=10))
                seconds.append(time.perf_counter() - t0)
                ps.append(type_precision([h.product.category for h in resp.hits], r["article_type"]))
            got[cond] = statistics.fmean(ps)
        return got, seconds

    e2e, latency = end_to_end("")
    # the baseline of the same run: the catalogue CLIP reading every photo (`clip.photo_tower` off)
    tower, without = retriever.photo_tower, None
    if tower is not None:
        retriever.photo_tower = None
        without, _ = end_to_end(", no photo tower")
        retriever.photo_tower = tower

    def cell(cond: str, view: str, vote: float, depth: int) -> float | None:
        return next((g["p_at_10"] for g in grid if (g["condition"], g["view"], g["vote"], g["depth"]) == (cond, view, vote, depth)), None)

    print(f"\nprecision@10 by article type, {a.set} set, {len(rows)} photos (mean over the shopper's kinds in 'wild')")
    head = f"{'view':<12}{'vote':>6}{'depth':>6}" + "".join(f"{k:>10}" for k in CONDITIONS) + f"{'wild':>8}"
    print(head)
    for view in a.views:
        for vote in a.votes:
            for depth in a.depths if vote > 0 else [0]:
                vals = [cell(k, view, vote, depth) or 0.0 for k in CONDITIONS]
                print(f"{view:<12}{vote:>6.2f}{depth:>6}" + "".join(f"{v:>10.3f}" for v in vals) + f"{statistics.fmean(vals[1:]):>8.3f}")
    defaults = f"defaults: views {c.photo_views}, votes {dict(c.photo_votes)}, depth {c.photo_vote_depth}"
    wild = statistics.fmean([e2e[k] for k in KINDS])
    print(f"{'end to end':<24}" + "".join(f"{e2e[k]:>10.3f}" for k in CONDITIONS) + f"{wild:>8.3f}   ({defaults})")
    if without is not None:
        wild_without = statistics.fmean([without[k] for k in KINDS])
        print(f"{'  no photo tower':<24}" + "".join(f"{without[k]:>10.3f}" for k in CONDITIONS) + f"{wild_without:>8.3f}")
    lat = sorted(latency)
    p50, p95 = lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.95)] * 1e3
    print(f"end-to-end photo query: p50 {p50:.0f} ms, p95 {p95:.0f} ms; all four views encoded: p50 {statistics.median(encode_s) * 1e3:.0f} ms")
    write_result(
        a.out,
        {
            "set": a.set,
            "photos": len(rows),
            "seed": a.seed,
            "defaults": {"views": list(c.photo_views), "votes": dict(c.photo_votes), "depth": c.photo_vote_depth},
            "grid": grid,
            "end_to_end": e2e,
            "photo_tower": tower is not None,
            "end_to_end_without_photo_tower": without,
            "end_to_end_ms": {"p50": lat[len(lat) // 2] * 1e3, "p95": lat[int(len(lat) * 0.95)] * 1e3},
        },
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
