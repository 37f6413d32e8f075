"""Video shopping: are the products a clip shows found, and how fast.

Builds clips from catalogue photos (`video_clips.py`: 2-4 products a clip, pans, zooms,
crops, tilts, cuts, black gaps, a product shown twice; H.264 MP4/MOV, VP8/VP9 WebM) of the
photo hold-out's products (`queries/kagl-photo-holdout.jsonl`, never used to train the
catalogue CLIP): the first half of its products make the dev set, the second half the
held-out test set. Each clip is searched (`assistant.video.items.search_video`, k=5 per item).

Per item shown: found (its product in the top 5 of the card group made from the shot that
showed it; products laid apart share a shot, so any group covering at least half as much of
it as the best counts), right type (such a group's top card is of its article type).
`--apart`: clips of the same products laid side by side in twos and threes, filmed together. Per clip: items
detected vs shown, first card time (decode, shots, items, the first group's search), all
groups' time, and the encoding cost per second of video. Prints a table, writes JSON.

Usage: python benchmarks/bench_video.py --set dev|test [--clips 30] [--apart] [--seed N] [--index PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.runtime import build_retriever  # noqa: E402
from assistant.video.items import search_video  # noqa: E402
from benchmarks.common import add_index_options, settings_from, write_result  # noqa: E402
from benchmarks.video_clips import CONTAINERS, ClipManifest, make_clip  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOLDOUT = HERE / "queries" / "kagl-photo-holdout.jsonl"


def holdout_products(which: str) -> list[tuple[str, str, Path]]:
    rows = [json.loads(line) for line in HOLDOUT.read_text().splitlines() if line.strip()]
    products = [(r["id"].removeprefix("h"), r["article_type"], (ROOT / r["image"]).resolve()) for r in rows]
    half = len(products) // 2
    return products[:half] if which == "dev" else products[half:]


def make_set(which: str, clips: int, folder: Path, apart: bool = False, seed: int | None = None) -> list[ClipManifest]:
    rng = random.Random(seed if seed is not None else {"dev": 11, "test": 23}[which] + (100 if apart else 0))
    pool = holdout_products(which)
    codecs = list(CONTAINERS)
    out = []
    for c in range(clips):
        chosen = rng.sample(pool, rng.randint(2, 4))
        out.append(make_clip(chosen, folder / f"{which}-{c:03d}", codecs[c % len(codecs)], seed=rng.randint(0, 2**31), apart=apart))
    return out


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def score_clip(m: ClipManifest, result) -> dict:  # noqa: ANN001 - a VideoSearch
    rows = []
    for shown in m.items:
        span = (shown.start_s, shown.end_s)
        # the card groups whose shots covered the time this product was on screen: the one that
        # covered most, and any covering at least half as much (products laid apart share a shot)
        cover = {id(g): sum(overlap(span, s) for s in g.item.spans) for g in result.groups}
        most = max(cover.values(), default=0.0)
        mine = [g for g in result.groups if most > 0 and cover[id(g)] >= most / 2]
        found = any(shown.product_id in [h.product_id for h in g.response.hits[:5]] for g in mine)
        right_type = any(g.response.hits and g.response.hits[0].product.category == shown.article_type for g in mine)
        rows.append({"product_id": shown.product_id, "motion": shown.motion, "found": found, "right_type": right_type})
    distinct = len({s.product_id for s in m.items})
    return {"clip": Path(m.path).name, "codec": m.codec, "seconds": m.seconds, "shown": distinct, "detected": len(result.groups), "items": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_index_options(ap)
    ap.add_argument("--set", choices=("dev", "test"), default="dev")
    ap.add_argument("--clips", type=int, default=30)
    ap.add_argument("--apart", action="store_true", help="clips of products laid apart, filmed together in twos and threes")
    ap.add_argument("--seed", type=int, help="another set of clips of the same products (default: the set's own seed)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    retriever = build_retriever(settings_from(a))
    with tempfile.TemporaryDirectory(prefix="clips-") as tmp:
        manifests = make_set(a.set, a.clips, Path(tmp), a.apart, a.seed)
        # warm-up: first-call costs (tracing the image tower) are not a shopper's
        search_video(retriever, Path(manifests[0].path).read_bytes())
        clips, first_card, total, per_video_s = [], [], [], []
        for m in manifests:
            data = Path(m.path).read_bytes()
            t = time.perf_counter()
            result = search_video(retriever, data)
            wall = time.perf_counter() - t
            tm = result.timings_ms
            first = (tm["decode"] + tm["shots"] + tm["items"]) / 1e3 + tm["search"] / 1e3 / max(len(result.groups), 1)
            first_card.append(first)
            total.append(wall)
            per_video_s.append((tm["decode"] + tm["items"]) / 1e3 / m.seconds)
            clips.append(score_clip(m, result) | {"timings_ms": tm, "first_card_s": first})
    items = [r for c in clips for r in c["items"]]
    by_motion = {mo: float(np.mean([r["found"] for r in items if r["motion"] == mo])) for mo in sorted({r["motion"] for r in items})}
    by_codec = {co: float(np.mean([r["found"] for c in clips if c["codec"] == co for r in c["items"]])) for co in sorted({c["codec"] for c in clips})}
    summary = {
        "set": a.set,
        "apart": a.apart,
        "seed": a.seed,
        "clips": len(clips),
        "items_shown": len(items),
        "found_top5": float(np.mean([r["found"] for r in items])),
        "right_type_top1": float(np.mean([r["right_type"] for r in items])),
        "detected_vs_shown": {
            "exact": sum(c["detected"] == c["shown"] for c in clips),
            "more": sum(c["detected"] > c["shown"] for c in clips),
            "fewer": sum(c["detected"] < c["shown"] for c in clips),
        },
        "found_by_motion": by_motion,
        "found_by_codec": by_codec,
        "clip_seconds_mean": float(np.mean([c["seconds"] for c in clips])),
        "first_card_s": {"p50": float(np.percentile(first_card, 50)), "p95": float(np.percentile(first_card, 95)), "max": max(first_card)},
        "all_groups_s": {"p50": float(np.percentile(total, 50)), "p95": float(np.percentile(total, 95))},
        "decode_and_encode_s_per_video_s": float(np.mean(per_video_s)),
    }
    print(f"\n{a.set}: {len(clips)} clips ({summary['clip_seconds_mean']:.1f} s mean), {len(items)} items shown")
    print(f"  found in the top 5 of their card group: {summary['found_top5']:.1%}")
    print(f"  top card of the right type: {summary['right_type_top1']:.1%}")
    print(f"  items detected vs shown: {summary['detected_vs_shown']}")
    print("  found by motion: " + ", ".join(f"{k} {v:.0%}" for k, v in by_motion.items()))
    print("  found by codec: " + ", ".join(f"{k} {v:.0%}" for k, v in by_codec.items()))
    fc, ag = summary["first_card_s"], summary["all_groups_s"]
    print(f"  first card p50 {fc['p50']:.2f} s, p95 {fc['p95']:.2f} s, max {fc['max']:.2f} s")
    print(f"  every group p50 {ag['p50']:.2f} s, p95 {ag['p95']:.2f} s")
    print(f"  decoding + frame encoding: {summary['decode_and_encode_s_per_video_s'] * 1e3:.0f} ms per second of video")
    out = a.out or HERE / "results" / f"video-{a.set}{'-apart' if a.apart else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_result(out, {"summary": summary, "clips": clips})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
