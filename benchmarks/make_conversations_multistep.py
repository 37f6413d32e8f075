"""Build `benchmarks/conversations/kagl-multistep.jsonl`: conversations whose first request
needs more than one step in one turn, which the planner alone cannot pass (deterministic).

The planner reads a message as one step, so "a black belt and a brown wallet for men" becomes
one search for black-or-brown belts-or-wallets, and "find black sandals, then compare the first
two" a compare of products not yet shown. A tool-calling model can split such a request into
two searches, or a search and then a step on its results; this set measures whether it does
(`eval_conversations.py --policies planner,guarded,model`). Each conversation then goes on
with an ordinary follow-up that needs the session to hold the last step's results.
Checks beyond `kagl.jsonl`'s: `each_of` (every product shown matches one of the specs and
every spec is met by one), `details_of` (the turn's `get_product` is about the Nth product it
showed). Usage: python benchmarks/make_conversations_multistep.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_conversations  # noqa: E402

SEARCH, DETAILS, COMPARE = "search_products", "get_product", "compare_products"


def _spec(category: str, colour: str, gender: str) -> dict:
    return {"category": category, "colour": colour, "gender": [gender, "Unisex"]}


def _two(cid: str, text: str, a: tuple[str, str, str], b: tuple[str, str, str], follow: str = "compare the first two") -> dict:
    compare = {"user": follow, "tools": [COMPARE], "text_contains": ["Comparing"] if not follow.startswith("比较") else ["比较"]}
    return {"id": cid, "turns": [{"user": text, "tools": [SEARCH, SEARCH], "products": {"each_of": [_spec(*a), _spec(*b)]}}, compare]}


def _then(cid: str, text: str, spec: tuple[str, str, str], step: str, add: str = "add the first one to my cart") -> dict:
    category, colour, gender = spec
    first = {"user": text, "tools": [SEARCH, step], "products": {"category": [category], "colour": [colour], "gender": [gender, "Unisex"]}}
    if step == DETAILS:
        first["details_of"] = 0
    else:
        first["text_contains"] = ["Comparing"] if add.isascii() else ["比较"]
    confirm = {"user": add, "tools": [], "text_contains": ["Shall I add"] if add.isascii() else ["加入购物车吗"]}
    return {"id": cid, "turns": [first, confirm]}


CONVERSATIONS = [
    _two("m00", "I need a black belt and a brown wallet for men", ("Belts", "Black", "Men"), ("Wallets", "Brown", "Men")),
    _two("m01", "show me white t-shirts for men and also some blue jeans", ("Tshirts", "White", "Men"), ("Jeans", "Blue", "Men")),
    _two("m02", "black heels for women, and a red handbag to go with them", ("Heels", "Black", "Women"), ("Handbags", "Red", "Women")),
    _two("m03", "I'm after black sunglasses for men plus a silver watch", ("Sunglasses", "Black", "Men"), ("Watches", "Silver", "Men")),
    _then("m04", "find black sandals for men, then compare the first two", ("Sandals", "Black", "Men"), COMPARE),
    _then("m05", "show me pink tops for women and tell me about the first one", ("Tops", "Pink", "Women"), DETAILS),
    _then("m06", "look for blue shirts for men and describe the top result", ("Shirts", "Blue", "Men"), DETAILS),
    _then("m07", "search black sports shoes for men and compare the top two", ("Sports Shoes", "Black", "Men"), COMPARE),
    _two("m08", "我要一条黑色男士皮带和一个棕色男士钱包", ("Belts", "Black", "Men"), ("Wallets", "Brown", "Men"), "比较前两个"),
    _then("m09", "找女士黑色手表，然后比较前两个", ("Watches", "Black", "Women"), COMPARE, "把第一个加入购物车"),
]


def main() -> None:
    write_conversations("kagl-multistep", CONVERSATIONS)


if __name__ == "__main__":
    main()
