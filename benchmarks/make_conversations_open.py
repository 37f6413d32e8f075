"""Build `benchmarks/conversations/kagl-open.jsonl`: requests no rule was written for
(deterministic), to measure what a tool-calling model adds per policy.

The other sets phrase known steps in new words; these ask for things the planner's tables do
not name at all: two items that must match ("a belt and a wallet that match"), a need instead
of a product ("something to keep the sun out of my eyes"), a person instead of a gender ("my
wife loves red"), an occasion ("a white shirt for a job interview"), a question across the
shown products that the catalogue cannot answer ("which of these is waterproof?", which must be
answered without an invented fact), and both of two shown products to the cart. Written before
the set was first run, and not tuned on (after that run, the two questions across the shown were
corrected to expect the step that reads their details, `compare_products`, and an answer that
says none of them is described so): `eval_conversations.py --policies planner,guarded,model`.
Checks beyond the others': an `each_of` spec may leave the colour open, and `matching` asks that
the two searches' products share a colour. Usage: python benchmarks/make_conversations_open.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_conversations  # noqa: E402

SEARCH, COMPARE = "search_products", "compare_products"
MEN, WOMEN = ["Men", "Unisex"], ["Women", "Unisex"]

CONVERSATIONS = [
    {"id": "o00", "turns": [
        {"user": "I need a belt and a wallet that match, for men", "tools": [SEARCH, SEARCH],
         "products": {"each_of": [{"category": "Belts", "gender": MEN}, {"category": "Wallets", "gender": MEN}], "matching": True}}]},
    {"id": "o01", "turns": [
        {"user": "show me watches for men", "tools": [SEARCH], "products": {"category": ["Watches"], "gender": MEN}},
        {"user": "which of these is waterproof?", "tools": [COMPARE], "text_contains": ["None of these"]}]},
    {"id": "o02", "turns": [
        {"user": "I want a white shirt for a job interview, I'm a man", "tools": [SEARCH],
         "products": {"category": ["Shirts"], "colour": ["White"], "gender": MEN}}]},
    {"id": "o03", "turns": [
        {"user": "my wife loves red, find her a handbag", "tools": [SEARCH],
         "products": {"category": ["Handbags"], "colour": ["Red"], "gender": WOMEN}}]},
    {"id": "o04", "turns": [
        {"user": "something to keep the sun out of my eyes, for women", "tools": [SEARCH],
         "products": {"category": ["Sunglasses", "Caps", "Hats"], "gender": WOMEN}}]},
    {"id": "o05", "turns": [
        {"user": "what should I wear on my feet at the gym? black, men's", "tools": [SEARCH],
         "products": {"category": ["Sports Shoes"], "colour": ["Black"], "gender": MEN}}]},
    {"id": "o06", "turns": [
        {"user": "show me blue jeans for men", "tools": [SEARCH], "products": {"category": ["Jeans"], "colour": ["Blue"], "gender": MEN}},
        {"user": "I'll take both of the first two", "tools": [], "text_contains": ["Shall I add"]}]},
    {"id": "o07", "turns": [
        {"user": "flip flops for the beach and a pair of sunglasses too, for women", "tools": [SEARCH, SEARCH],
         "products": {"each_of": [{"category": "Flip Flops", "gender": WOMEN}, {"category": "Sunglasses", "gender": WOMEN}]}}]},
    {"id": "o08", "turns": [
        {"user": "我老婆喜欢红色，帮她挑个手提包", "tools": [SEARCH], "products": {"category": ["Handbags"], "colour": ["Red"], "gender": WOMEN}}]},
    {"id": "o09", "turns": [
        {"user": "show me black heels for women", "tools": [SEARCH], "products": {"category": ["Heels"], "colour": ["Black"], "gender": WOMEN}},
        {"user": "are any of these good for standing all day?", "tools": [COMPARE], "text_contains": ["None of these"]}]},
]  # fmt: skip


def main() -> None:
    write_conversations("kagl-open", CONVERSATIONS)


if __name__ == "__main__":
    main()
