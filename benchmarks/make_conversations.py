"""Build the scripted conversation set `benchmarks/conversations/kagl.jsonl` (deterministic).

40 multi-turn conversations over the KAGL catalogue, each turn with what must happen: the
tools called, the filters passed, constraints every shown product must meet, words the
answer must contain. Made from real attribute combinations with enough products, so every
search has answers. Usage: python benchmarks/make_conversations.py
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalogue.loader import load_catalogue  # noqa: E402

WORDS = {
    "Watches": "watches",
    "Sandals": "sandals",
    "Casual Shoes": "casual shoes",
    "Sports Shoes": "sports shoes",
    "Tshirts": "tshirts",
    "Handbags": "handbags",
    "Jeans": "jeans",
    "Shirts": "shirts",
    "Backpacks": "backpacks",
    "Kurtas": "kurtas",
    "Heels": "heels",
    "Flip Flops": "flip flops",
    "Sunglasses": "sunglasses",
    "Belts": "belts",
    "Wallets": "wallets",
    "Tops": "tops",
}
GENDER = {"Men": "men", "Women": "women"}


def main() -> None:
    products = load_catalogue(Path("../shared/data/kagl/products.csv")).products
    rng = random.Random(40)
    combos = Counter((p.category, p.colour, p.gender) for p in products if p.category in WORDS and p.gender in GENDER and p.colour)
    good = sorted(c for c, n in combos.items() if n >= 12)
    rng.shuffle(good)
    photos = [p for p in products if p.image and p.category in ("Sports Shoes", "Casual Shoes", "Watches", "Tshirts", "Handbags")]
    rng.shuffle(photos)
    convs = []
    for n, (cat, colour, gender) in enumerate(good[:40]):
        g, c, w = GENDER[gender], colour.lower(), WORDS[cat]
        gender_ok = [gender, "Unisex"]
        # "sandals" are sandals of any kind: the catalogue files sports sandals apart (as the
        # paraphrase and Chinese sets already check).
        types = [cat, "Sports Sandals"] if cat == "Sandals" else [cat]
        turns = [
            {
                "user": f"I need {c} {w} for {g}",
                "tools": ["search_products"],
                "filters": {"colour": [c]},
                "products": {"category": types, "colour": [colour], "gender": gender_ok},
            }
        ]
        other = {"Men": "women", "Women": "men"}[gender]
        kind = n % 8
        if kind == 0:
            turns += [
                {"user": "tell me more about the second one", "tools": ["get_product"], "mentions_shown": 1},
                {"user": "compare the first two", "tools": ["compare_products"], "text_contains": ["Comparing"]},
            ]
        elif kind == 1:
            turns += [
                {"user": "add the first one to my cart", "tools": [], "text_contains": ["Shall I add"]},
                {"user": "yes", "tools": ["add_to_cart"], "text_contains": ["1 item"]},
                {"user": "what's in my cart?", "tools": ["view_cart"], "mentions_shown": 0},
                {"user": "remove it", "tools": [], "text_contains": ["Shall I remove"]},
                {"user": "yes", "tools": ["remove_from_cart"], "text_contains": ["0 items"]},
            ]
        elif kind == 2:
            turns += [
                {"user": "why did you pick the first one?", "tools": [], "text_contains": ["found by"]},
                {"user": "anything similar?", "tools": ["similar_products"], "products": {"category_any": [cat]}},
            ]
        elif kind == 3:
            turns += [
                {"user": "what is your return policy?", "tools": ["answer_policy_question"], "text_contains": ["30 days", "Source"]},
                {"user": "how long does delivery take?", "tools": ["answer_policy_question"], "text_contains": ["business days"]},
            ]
        elif kind == 4:
            turns += [
                {"user": "tell me about the ninth one", "tools": [], "text_contains": ["only"]},
                {"user": "show more", "tools": ["search_products"], "products": {"category": [cat], "colour": [colour]}, "new_products": True},
            ]
        elif kind == 5:
            turns += [
                {
                    "user": f"for {other}",
                    "tools": ["search_products"],
                    "products": {"category": [cat], "gender": [{"women": "Women", "men": "Men"}[other], "Unisex"]},
                    "text_contains": ["gender"],
                }
            ]
        elif kind == 6:
            turns += [
                {"user": "add the third one to my cart", "tools": [], "text_contains": ["Shall I add"]},
                {"user": "no", "tools": [], "text_contains": ["left your cart"]},
                {"user": "what's in my cart?", "tools": ["view_cart"], "text_contains": ["empty"]},
            ]
        else:
            turns += [
                {"user": "I don't like the first one", "tools": [], "text_contains": ["Noted"]},
                {"user": "hi", "tools": [], "text_contains": ["Hello"]},
            ]
        if n % 5 == 0:
            p = photos[n]
            turns.append(
                {
                    "user": "like this but in black",
                    "photo": f"../shared/data/kagl/{p.image.relative_to(Path('../shared/data/kagl'))}",
                    "tools": ["search_by_photo"],
                    "products": {"colour_share": {"Black": 0.6}},
                }
            )
        convs.append({"id": f"c{n:02d}", "turns": turns})
    dest = Path(__file__).parent / "conversations" / "kagl.jsonl"
    dest.write_text("".join(json.dumps(c) + "\n" for c in convs))
    print(f"wrote {len(convs)} conversations, {sum(len(c['turns']) for c in convs)} turns, to {dest}")


if __name__ == "__main__":
    main()
