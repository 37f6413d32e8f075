"""A photo with words keeps the photo's traits the words do not change: the reading of the
photo's traits, the words that became no filter, and the tiers (`retrieval.composed`)."""

from __future__ import annotations

import pytest

from assistant.retrieval.composed import ASKED_WORDS, PhotoReading, asked_words, keep_photo, named, read_photo
from assistant.retrieval.fusion import Fused


@pytest.mark.parametrize(
    "text, matched, words",
    [
        ("this in leather", [], ["leather"]),
        ("like this but in red", ["red"], []),
        ("same style in cotton please", [], ["cotton"]),
        ("something like this with a hood", [], ["hood"]),
        ("same but for her", ["her"], []),
        ("a formal one like this", ["formal"], []),
        ("Do you have this in Suede?", [], ["suede"]),
        ("like this but in black leather", ["black"], ["leather"]),
        ("like these in 2 sizes", [], ["size"]),  # plurals folded, numbers and short words dropped
    ],
)
def test_the_words_that_ask_for_what_no_filter_holds(text, matched, words):
    assert asked_words(text, matched) == words


def test_a_name_holds_the_words_whatever_their_number():
    assert named("Woodland Men Brown Leather Sandals", ["leather", "sandal"]) == 2
    assert named("Woodland Men Brown Sandals", ["leather"]) == 0


def payload(kind="sandals", gender="men", colour="brown", name="Sandals"):
    return {"article_type_key": kind, "gender_key": gender, "colour_key": colour, "name": name}


def test_the_photo_is_read_from_its_neighbours_and_the_kind_also_from_the_fused_head():
    neighbours = [payload(colour="black"), payload(kind="flip flops", colour="brown"), payload(colour="brown"), payload(colour="brown")]
    fused_head = [payload(kind="flip flops")] * 3
    r = read_photo(neighbours, fused_head, depth=10, fused_weight=1.0, colour_depth=1)
    assert (r.gender, r.colour) == ("men", "black")  # colour from the nearest neighbour only
    # sandals 1 + 1/3 + 1/4; flip flops 1/2 + (1 + 1/2 + 1/3): the words' list tips the kind
    assert r.kind == "flip flops" and r.shares["kind"] == pytest.approx((1 / 2 + 1 + 1 / 2 + 1 / 3) / (1 + 1 / 3 + 1 / 4 + 1 / 2 + 1 + 1 / 2 + 1 / 3))
    assert read_photo(neighbours, fused_head, fused_weight=0.0).kind == "sandals"
    assert read_photo([], []) == PhotoReading(None, None, None, {})


def fused(*ids):
    return [Fused(i, 1.0 - n / 10, {"fused": (n + 1, 1.0)}) for n, i in enumerate(ids)]


PAYLOADS = {
    "other-kind": payload(kind="flip flops", gender="men", colour="brown"),
    "women-brown": payload(gender="women", colour="brown"),
    "men-black": payload(colour="black"),
    "unisex-brown-leather": payload(gender="unisex", colour="brown", name="Unisex Brown Leather Sandals"),
    "men-brown": payload(),
}
READING = PhotoReading("sandals", "men", "brown", {"kind": 0.9, "gender": 0.8, "colour": 0.6})


def test_the_tiers_keep_the_kind_then_the_words_then_the_gender_then_the_colour():
    ranked = keep_photo(fused(*PAYLOADS), PAYLOADS, READING, said=set(), words=["leather"])
    assert [f.id for f in ranked] == ["unisex-brown-leather", "men-brown", "men-black", "women-brown", "other-kind"]
    top = ranked[0].sources
    assert top["photo_kind"] == (1, 0.9) and top["photo_gender"] == (1, 0.8) and top["photo_colour"] == (1, 0.6)
    assert top[ASKED_WORDS] == (1, 1) and top["fused"] == (4, 1.0)  # the list's own evidence is kept
    assert "photo_gender" not in next(f for f in ranked if f.id == "women-brown").sources


def test_what_the_words_set_is_not_kept_from_the_photo():
    # "same but for her": gender said; the colour is still the photo's
    ranked = keep_photo(fused(*PAYLOADS), PAYLOADS, READING, said={"gender"}, words=[])
    assert [f.id for f in ranked][:3] == ["women-brown", "unisex-brown-leather", "men-brown"]
    assert all("photo_gender" not in f.sources for f in ranked)


def test_within_a_tier_the_fused_order_stands_and_nothing_read_changes_nothing():
    same = {i: payload() for i in "abc"}
    assert [f.id for f in keep_photo(fused("c", "a", "b"), same, READING, set(), [])] == ["c", "a", "b"]
    assert keep_photo(fused(*PAYLOADS), PAYLOADS, PhotoReading(), set(), []) == fused(*PAYLOADS)
    only_colour = keep_photo(fused(*PAYLOADS), PAYLOADS, READING, set(), [], traits=("colour",))
    assert [f.id for f in only_colour][:4] == ["other-kind", "women-brown", "unisex-brown-leather", "men-brown"]


def test_the_colour_reader_joins_the_neighbours_colour_at_its_weight():
    neighbours = [payload(colour="navy blue"), payload(colour="black"), payload(colour="navy blue")]
    read = {"Black": 0.8, "Navy Blue": 0.1, "Grey": 0.1}  # the reader's own colour names
    # the neighbours: navy blue 1 + 1/3, black 1/2 (of 11/6)
    assert read_photo(neighbours, [], colour_read=read, colour_read_weight=0.0).colour == "navy blue"
    mixed = read_photo(neighbours, [], colour_read=read, colour_read_weight=0.7)
    assert mixed.colour == "black" and mixed.shares["colour"] == pytest.approx(0.3 * (1 / 2) / (11 / 6) + 0.7 * 0.8)
    assert read_photo([], [], colour_read=read, colour_read_weight=0.7).colour == "black"  # no neighbour: the reader alone
