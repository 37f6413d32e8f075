"""Catalogue CLIPs compared on what a photo search needs of them, before any index is built.

For each CLIP checkpoint given (the packaged one first: the baseline of the same run), every
catalogue photo is encoded once, in memory, and the photo hold-out (`bench_photo.holdout`:
the dev half to choose on, the test half held out) is read against them, itself excluded:
- `p10 type`: the share of its 10 nearest catalogue photos of its article type;
- `kind` / `colour` / `gender`: that trait read right by a 1/rank vote of those 10 (what
  `retrieval.composed.read_photo` reads for a photo with words);
- `own@5 <variant>`: the photo made into a shopper's photo (`photo_variants.py`: on a
  backdrop, rotated, cropped, off a screen) finds its own catalogue photo in its top 5 (what
  a video item needs: the very product filmed).
This is the photo-to-photo list alone; the end-to-end figures stay `bench_photo.py`'s and
`bench_composed.py`'s, over a built index.

Usage: python benchmarks/bench_clip_photos.py [--set dev|test] [--limit N] [--out F] [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_photo import holdout  # noqa: E402
from common import write_result  # noqa: E402
from photo_variants import KINDS, variant  # noqa: E402

from assistant.catalogue.loader import load_catalogue  # noqa: E402
from assistant.clip.model import DEFAULT_WEIGHTS, load_kagl_clip  # noqa: E402
from assistant.encoders.clip import ClipEncoder  # noqa: E402
from assistant.encoders.images import load_image  # noqa: E402

HERE = Path(__file__).resolve().parent
DEPTH = 10
TRAITS = {"kind": "category", "colour": "colour", "gender": "gender"}


def _vote(values: list[str | None]) -> str | None:
    tally: dict[str, float] = {}
    for rank, v in enumerate(values, 1):
        if v:
            tally[v] = tally.get(v, 0.0) + 1.0 / rank
    return max(sorted(tally), key=lambda v: tally[v]) if tally else None


def measure(checkpoint: Path, products: list, queries: list[int]) -> dict[str, float]:
    enc = ClipEncoder(load_kagl_clip(checkpoint))
    vectors = []
    for i in tqdm(range(0, len(products), 64), desc=f"catalogue photos ({checkpoint.name})", unit="batch"):
        vectors.append(enc.encode_image([load_image(p.image) for p in products[i : i + 64]]))
    catalogue = torch.from_numpy(np.concatenate(vectors)).float()
    q = torch.tensor(queries)
    sims = catalogue[q] @ catalogue.T
    sims[torch.arange(len(q)), q] = -2.0  # itself excluded, as the benchmarks exclude it
    top = sims.topk(DEPTH, dim=1).indices.tolist()
    pairs = list(zip(queries, top, strict=True))
    out: dict[str, float] = {"p10 type": float(np.mean([[products[j].category == products[r].category for j in row] for r, row in pairs]))}
    for trait, field in TRAITS.items():
        right = [_vote([str(getattr(products[j], field) or "") or None for j in row]) == str(getattr(products[r], field)) for r, row in pairs]
        out[trait] = float(np.mean(right))
    shots = []
    for i in tqdm(range(0, len(queries), 16), desc="shoppers' photos", unit="batch"):
        images = []
        for r in queries[i : i + 16]:
            photo = load_image(products[r].image)
            images += [variant(photo, products[r].id, k) for k in KINDS]
        shots.append(enc.encode_image(images))
    s2 = torch.from_numpy(np.concatenate(shots)).float() @ catalogue.T
    own = q.repeat_interleave(len(KINDS))
    rank = (s2 > s2[torch.arange(len(own)), own][:, None]).sum(1)
    found = (rank < 5).float().view(-1, len(KINDS)).mean(0).tolist()
    out.update({f"own@5 {k}": float(v) for k, v in zip(KINDS, found, strict=True)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="*", type=Path, help="CLIP delta checkpoints to compare with the packaged one")
    ap.add_argument("--set", choices=("dev", "test"), default="dev")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--catalogue", type=Path, default=HERE.parent.parent / "shared" / "data" / "kagl" / "products.csv")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    products = [p for p in load_catalogue(a.catalogue).products if p.image is not None]
    row = {p.id: i for i, p in enumerate(products)}
    queries = [row[q["id"].removeprefix("h")] for q in holdout(a.set)[: a.limit or None] if q["id"].removeprefix("h") in row]
    results = {}
    for ck in [DEFAULT_WEIGHTS, *a.checkpoints]:
        results[str(ck)] = measure(ck, products, queries)
    names = list(next(iter(results.values())))
    print(f"{len(queries)} {a.set} photos against {len(products)} catalogue photos")
    print("| checkpoint | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for ck, r in results.items():
        print(f"| {Path(ck).name} | " + " | ".join(f"{r[n]:.3f}" for n in names) + " |")
    out = a.out or HERE / "results" / f"clip-photos-{a.set}.json"
    write_result(out, {"set": a.set, "photos": len(queries), "results": results})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
