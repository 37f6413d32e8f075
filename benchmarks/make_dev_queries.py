"""Build the development query set from KAGL (deterministic): `benchmarks/queries/kagl-dev.jsonl`.

Three kinds of query, each with graded judgements derived from the catalogue's attributes:
- text: natural shopper phrasings ("black puma trainers for men", "a wristwatch for her")
  made from real attribute combinations, with everyday words for article types; grade 2 =
  every attribute the query names matches (gender: the named one or unisex), grade 1 = the
  article type and all but one of the others match.
- photo: a product photo from the CLIP validation split (never seen in training), the
  product itself excluded from the results; grade 2 = same article type, colour and
  gender, grade 1 = same article type and colour.
- photo + text: a photo and a change ("like this but in black"); grade 2 = same article
  type and gender in the asked colour, grade 1 = same article type in the asked colour.

Usage: python benchmarks/make_dev_queries.py [CATALOGUE] [--seed N --name NAME]
(the dev set: seed 20261128, name kagl-dev; a held-out test set: --seed 7 --name kagl-test)
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalogue.loader import load_catalogue  # noqa: E402
from assistant.catalogue.schema import Product  # noqa: E402
from assistant.clip.train import is_validation  # noqa: E402
from assistant.clip.train_fusion import gender_ok  # noqa: E402

PHRASES = {
    "Tshirts": ["t-shirt", "tee"],
    "Casual Shoes": ["casual shoes", "sneakers"],
    "Sports Shoes": ["running shoes", "trainers"],
    "Watches": ["watch", "wristwatch"],
    "Handbags": ["handbag", "purse"],
    "Shirts": ["shirt"],
    "Jeans": ["jeans"],
    "Kurtas": ["kurta"],
    "Tops": ["top"],
    "Sandals": ["sandals"],
    "Heels": ["heels", "high heels"],
    "Flip Flops": ["flip flops", "slippers"],
    "Backpacks": ["backpack"],
    "Sunglasses": ["sunglasses", "shades"],
    "Belts": ["belt"],
    "Wallets": ["wallet"],
    "Formal Shoes": ["formal shoes", "dress shoes"],
    "Track Pants": ["track pants", "joggers"],
    "Shorts": ["shorts"],
    "Sweatshirts": ["sweatshirt"],
    "Jackets": ["jacket"],
    "Dresses": ["dress"],
    "Trousers": ["trousers", "pants"],
    "Caps": ["cap"],
    "Flats": ["flats"],
    "Clutches": ["clutch"],
    "Socks": ["socks"],
}
GENDER_WORDS = {"Men": ["men", "him", "a man"], "Women": ["women", "her", "ladies"], "Boys": ["boys"], "Girls": ["girls"]}
CHANGE_PHRASES = ["like this but in {c}", "same but {c}", "this in {c} please", "something like this in {c}"]
TEMPLATES = [
    "{colour} {brand} {type} for {gender}",
    "{brand} {type} in {colour} for {gender}",
    "looking for {colour} {type} for {gender}",
    "{colour} {type} for {gender}",
    "{brand} {type} for {gender}",
    "{usage} {type} for {gender} in {colour}",
]


def _image(p: Product, catalogue: Path) -> str:
    """The photo's path as seen from the repository root (the catalogue lies in ../shared)."""
    assert p.image is not None
    return str(Path("../shared/data/kagl") / p.image.relative_to(catalogue.parent))


def _grade(p: Product, want: dict[str, str | None]) -> int:
    if p.category != want["type"]:
        return 0
    checks = [
        gender_ok(p, want.get("gender")),
        want.get("colour") is None or p.colour == want["colour"],
        want.get("brand") is None or p.brand == want["brand"],
        want.get("usage") is None or p.attributes.get("usage") == want["usage"],
    ]
    misses = checks.count(False)
    return 2 if misses == 0 else 1 if misses == 1 else 0


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("catalogue", nargs="?", type=Path, default=Path("../shared/data/kagl/products.csv"))
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--name", default="kagl-dev")
    a = ap.parse_args()
    path = a.catalogue
    products = load_catalogue(path).products
    rng = random.Random(a.seed)
    by_type: dict[str, list[Product]] = defaultdict(list)
    for p in products:
        by_type[str(p.category)].append(p)
    out: list[dict] = []

    # Text queries: seeds drawn from real products so every query has answers.
    seeds = [p for p in products if p.category in PHRASES and p.gender in GENDER_WORDS and p.colour and p.brand]
    rng.shuffle(seeds)
    seen = set()
    for p in seeds:
        if len([q for q in out if q["kind"] == "text"]) >= 60:
            break
        tpl = TEMPLATES[len(out) % len(TEMPLATES)]
        want = {
            "type": p.category,
            "gender": p.gender,
            "colour": p.colour if "{colour}" in tpl else None,
            "brand": p.brand if "{brand}" in tpl else None,
            "usage": p.attributes.get("usage") if "{usage}" in tpl else None,
        }
        text = tpl.format(
            colour=str(p.colour).lower(),
            brand=p.brand,
            type=rng.choice(PHRASES[str(p.category)]),
            gender=rng.choice(GENDER_WORDS[str(p.gender)]),
            usage=str(p.attributes.get("usage", "")).lower(),
        )
        if text in seen:
            continue
        rel = {q.id: g for q in by_type[str(p.category)] if (g := _grade(q, want)) > 0}
        n2 = sum(1 for g in rel.values() if g == 2)
        if not 3 <= n2 <= 400:
            continue
        seen.add(text)
        out.append({"id": f"t{len(out):03d}", "kind": "text", "text": text, "relevant": rel})

    # Photo queries from the validation split.
    photos = [p for p in products if p.image is not None and is_validation(p.id) and p.category and p.colour]
    rng.shuffle(photos)
    n_photo = 0
    for p in photos:
        if n_photo >= 40:
            break
        rel = {}
        for q in by_type[str(p.category)]:
            if q.id == p.id or q.colour != p.colour:
                continue
            rel[q.id] = 2 if q.gender == p.gender else 1
        if not 3 <= len(rel) <= 1500:
            continue
        n_photo += 1
        out.append(
            {
                "id": f"p{n_photo:03d}",
                "kind": "photo",
                "image": _image(p, path),
                "filters": {"exclude_product_ids": [p.id]},
                "article_type": p.category,
                "relevant": rel,
            }
        )

    # Photo + text: "like this but in <colour>".
    n_pt = 0
    for p in photos[200:]:
        if n_pt >= 20:
            break
        colours = sorted({q.colour for q in by_type[str(p.category)] if q.colour and q.colour != p.colour and gender_ok(q, p.gender)})
        colours = [c for c in colours if c in ("Black", "White", "Blue", "Red", "Brown", "Grey", "Green", "Pink", "Navy Blue")]
        if not colours:
            continue
        colour = rng.choice(colours)
        rel = {}
        for q in by_type[str(p.category)]:
            if q.colour == colour and q.id != p.id:
                rel[q.id] = 2 if gender_ok(q, p.gender) else 1
        if not 3 <= sum(1 for g in rel.values() if g == 2) <= 1500:
            continue
        n_pt += 1
        out.append(
            {
                "id": f"pt{n_pt:03d}",
                "kind": "photo+text",
                "image": _image(p, path),
                "text": rng.choice(CHANGE_PHRASES).format(c=colour.lower()),
                "filters": {"exclude_product_ids": [p.id]},
                "relevant": rel,
            }
        )

    dest = Path(__file__).parent / "queries" / f"{a.name}.jsonl"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(json.dumps(q) + "\n" for q in out))
    # Every validation-split photo, for the photo precision@10-by-article-type figure.
    holdout = [
        {"id": f"h{p.id}", "kind": "photo", "image": _image(p, path), "filters": {"exclude_product_ids": [p.id]}, "article_type": p.category}
        for p in products
        if p.image is not None and is_validation(p.id)
    ]
    if a.name == "kagl-dev":
        (dest.parent / "kagl-photo-holdout.jsonl").write_text("".join(json.dumps(q) + "\n" for q in holdout))
        print(f"wrote {len(holdout)} hold-out photo queries")
    kinds = defaultdict(int)
    for q in out:
        kinds[q["kind"]] += 1
    print(f"wrote {len(out)} queries to {dest}: {dict(kinds)}")


if __name__ == "__main__":
    main()
