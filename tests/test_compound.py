"""Which messages are several steps, and how they split. Fast: no model, no index."""

import pytest

from assistant.compound import split_steps
from assistant.retrieval.understanding import Vocabulary

VOCAB = Vocabulary(
    colour={"black", "brown", "white", "blue", "red", "pink", "silver"},
    gender={"men", "women", "boys", "girls", "unisex"},
    category={"belts", "wallets", "tshirts", "jeans", "heels", "handbags", "sunglasses", "watches", "sandals", "shirts", "tops", "shoes", "socks"},
    brand={"nike", "puma"},
    season={"summer"},
    usage={"casual", "sports"},
)


@pytest.mark.parametrize(
    ("message", "steps"),
    [
        ("I need a black belt and a brown wallet for men", ["I need a black belt for men", "a brown wallet for men"]),
        ("find black sandals for men, then compare the first two", ["find black sandals for men", "compare the first two"]),
        ("look for blue shirts for men and describe the top result", ["look for blue shirts for men", "describe the top result"]),
        ("black heels for women, and a red handbag to go with them", ["black heels for women", "a red handbag to go with them for women"]),
        ("我要一条黑色男士皮带和一个棕色男士钱包", ["我要一条黑色男士皮带", "一个棕色男士钱包"]),
        ("找女士黑色手表，然后比较前两个", ["找女士黑色手表", "比较前两个"]),
    ],
)
def test_several_steps(message, steps):
    assert split_steps(message, VOCAB) == steps


@pytest.mark.parametrize(
    "message",
    [
        "black and white shoes",
        "nike and puma shoes",
        "black sandals for men, under 50",
        "compare the first two, then add it",
        "black watches",
        "红色和黑色的手表",
    ],
)
def test_one_step(message):
    assert split_steps(message, VOCAB) is None


def test_the_steps_no_call_did():
    from assistant.compound import steps_of, undone

    steps = steps_of("I need a black belt and a brown wallet for men", VOCAB)
    belt = ("search_products", {"filters": {"category": ["belts"], "colour": ["black"]}})
    assert [s.text for s in undone(steps, [belt])] == ["a brown wallet for men"]
    wallet = ("search_products", {"filters": {"category": ["wallets"]}})
    assert undone(steps, [belt, wallet]) == []
    both = ("search_products", {"filters": {"category": ["belts", "wallets"]}})
    assert len(undone(steps, [both])) == 2, "one search for both items answers neither"
    then = steps_of("find black sandals for men, then compare the first two", VOCAB)
    sandals = ("search_products", {"filters": {"category": ["sandals"]}})
    assert [s.intent for s in undone(then, [sandals])] == ["compare"]
    assert undone(then, [sandals, ("compare_products", {"product_ids": ["1", "2"]})]) == []
