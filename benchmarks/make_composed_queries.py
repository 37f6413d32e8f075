"""Photo + words query sets: a shopper's photo and the change they want ("like this but in
red", "same but for women", "a sports one like this", "this in leather").

Photos come from the photo hold-out (`queries/kagl-photo-holdout.jsonl`: products whose photos
the catalogue CLIP never trained on), split as the other photo benchmarks split it: its first
half makes the dev set, its second half the held-out test set. The modifier cycles through four
kinds (`clip.train_fusion.changes`), each only where at least five products answer it:
- colour: another colour of the same article type;
- gender: the same article type for the other gender (Men <-> Women);
- usage: the same article type for another usage (Sports, Formal, Party, Ethnic, Casual);
- material: a material word that names of the same type carry and the photo's product lacks.
Grades from the catalogue's attributes: 2 = the photo's article type, the asked change, and
what was not asked kept (gender for colour/material/usage, colour for gender); 1 = the type and
the change only. Each query also carries its photo's article type, for precision@10 by type.

Usage: python benchmarks/make_composed_queries.py [CATALOGUE]
  (writes queries/kagl-composed-dev.jsonl and queries/kagl-composed-test.jsonl)
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
from assistant.clip.train_fusion import CHANGE_KINDS, changes  # noqa: E402

HERE = Path(__file__).resolve().parent
HOLDOUT = HERE / "queries" / "kagl-photo-holdout.jsonl"
KINDS = CHANGE_KINDS
# The benchmark's phrasings: none of them is training's (`clip.train_fusion.TRAIN_PHRASES`).
PHRASES = {
    "colour": ["like this but in {x}", "same but {x}", "this in {x} please", "something like this in {x}", "do you have this in {x}?"],
    "gender": ["same but for {x}", "like this for {x}", "this one but for {x}"],
    "usage": ["a {x} one like this", "like this but {x}", "something like this for {x} wear"],
    "material": ["this in {x}", "like this but {x}", "same style in {x}"],
}
GENDER_WORDS = {"Men": ["men", "him", "a man"], "Women": ["women", "her", "ladies"]}


def make_set(rows: list[dict], products: dict[str, Product], by_type: dict[str, list[Product]], rng: random.Random, prefix: str) -> list[dict]:
    out = []
    for n, r in enumerate(rows):
        p = products[r["id"].removeprefix("h")]
        # the kind cycles; where the catalogue cannot answer it, the next kind that it can
        for kind in KINDS[n % len(KINDS) :] + KINDS[: n % len(KINDS)]:
            options = changes(p, kind, by_type[str(p.category)])
            if options:
                break
        else:
            continue
        ch = rng.choice(options)
        value, word, rel = ch.value, ch.word, ch.relevant
        if kind == "gender":
            word = rng.choice(GENDER_WORDS[value])
        out.append(
            {
                "id": f"{prefix}{len(out):03d}",
                "kind": "photo+text",
                "change": kind,
                "value": value,
                "image": r["image"],
                "text": rng.choice(PHRASES[kind]).format(x=word),
                "filters": {"exclude_product_ids": [p.id]},
                "article_type": p.category,
                "relevant": rel,
            }
        )
    return out


def main() -> None:
    catalogue = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/kagl/products.csv")
    products = {p.id: p for p in load_catalogue(catalogue).products}
    by_type: dict[str, list[Product]] = defaultdict(list)
    for p in products.values():
        by_type[str(p.category)].append(p)
    rows = [json.loads(line) for line in HOLDOUT.read_text().splitlines() if line.strip()]
    half = len(rows) // 2
    for name, part, seed in (("dev", rows[:half], 31), ("test", rows[half:], 47)):
        queries = make_set(part, products, by_type, random.Random(seed), "c" if name == "dev" else "ct")
        dest = HERE / "queries" / f"kagl-composed-{name}.jsonl"
        dest.write_text("".join(json.dumps(q) + "\n" for q in queries))
        counts = {k: sum(q["change"] == k for q in queries) for k in KINDS}
        print(f"wrote {len(queries)} queries to {dest} ({counts})")


if __name__ == "__main__":
    main()
