"""The deterministic planner: a table of shopper messages and what each turn must be about."""

import pytest

from assistant.errors import QueryError
from assistant.planner import ShownProduct, plan_turn, resolve_references

SHOWN = [
    ShownProduct("11", "Titan Men Black Watch", "Watches", "Black"),
    ShownProduct("22", "Puma Men Red Sports Shoes", "Sports Shoes", "Red"),
    ShownProduct("33", "Nike Men Blue Tshirt", "Tshirts", "Blue"),
]


@pytest.mark.parametrize(
    ("message", "intent", "ids"),
    [
        ("I need running shoes for men", "search", []),
        ("tell me more about the second one", "details", ["22"]),
        ("tell me more", "details", ["11"]),
        ("what about the third one?", "details", ["33"]),
        ("compare the first two", "compare", ["11", "22"]),
        ("compare #1 and #3", "compare", ["11", "33"]),
        ("compare them", "compare", ["11", "22", "33"]),
        ("anything similar?", "similar", ["11"]),
        ("more like that watch", "similar", ["11"]),
        ("why did you pick this?", "why", ["11"]),
        ("why the last one", "why", ["33"]),
        ("add the first one to my cart", "add_to_cart", ["11"]),
        ("I'll take the red one", "add_to_cart", ["22"]),
        ("what's in my cart?", "view_cart", []),
        ("remove it", "remove_from_cart", ["11"]),
        ("what is your return policy?", "policy", []),
        ("how long does delivery take", "policy", []),
        ("do you offer gift wrapping?", "policy", []),
        ("do you have red shoes?", "search", []),
        ("I don't like this style", "dislike", ["11"]),
        ("I love the second one", "like", ["22"]),
        ("show more", "more", []),
        ("hi!", "greeting", []),
        ("the second one", "details", ["22"]),
        ("#3", "details", ["33"]),
        ("and the last one?", "details", ["33"]),
        ("the first", "details", ["11"]),
        ("Could you give me the specs for number two?", "details", ["22"]),
        ("what is item three like", "details", ["33"]),
        ("Could you list the items in my cart please?", "view_cart", []),
    ],
)
def test_intents_and_references(message, intent, ids):
    p = plan_turn(message, SHOWN, has_previous_search=True)
    assert p.intent == intent
    assert p.product_ids == ids
    assert p.problem is None


@pytest.mark.parametrize("message", ["in black", "cheaper", "something cheaper", "not Nike", "for women", "under 50", "but in red"])
def test_modifiers_refine_the_previous_search(message):
    assert plan_turn(message, SHOWN, has_previous_search=True).intent == "refine"
    assert plan_turn(message, [], has_previous_search=False).intent == "search"


def test_a_reference_past_what_was_shown_is_a_problem_not_a_guess():
    p = plan_turn("tell me about the third one", SHOWN[:2], has_previous_search=True)
    assert p.intent == "details" and p.product_ids == []
    assert "only 2" in (p.problem or "")
    ids, problem = resolve_references("compare the first three", SHOWN[:2])
    assert ids == [] and "only 2" in (problem or "")


def test_focus_is_what_it_refers_to():
    assert plan_turn("add it to my cart", SHOWN, focus="33").product_ids == ["33"]


def test_yes_and_no_answer_a_pending_confirmation():
    assert plan_turn("yes", SHOWN, pending_confirmation=True).intent == "confirm"
    assert plan_turn("no thanks", SHOWN, pending_confirmation=True).intent == "deny"
    assert plan_turn("yes", SHOWN).intent != "confirm"


def test_a_photo_makes_it_a_photo_search():
    p = plan_turn("like this but in red", SHOWN, has_photo=True)
    assert p.intent == "search" and p.text == "like this but in red"
    assert plan_turn("", [], has_photo=True).intent == "search"


def test_nothing_shown_yet():
    assert plan_turn("anything similar?", []).problem == "I have not shown any products yet."
    assert plan_turn("compare them", []).problem is not None


@pytest.mark.parametrize("bad", ["", "   ", "x" * 20_000])
def test_empty_and_huge_messages_are_typed_errors(bad):
    with pytest.raises(QueryError):
        plan_turn(bad, SHOWN)


@pytest.mark.parametrize("message", ["Can you switch to the men's range?", "could you change it to the women's version?", "can you try blue ones?"])
def test_a_request_to_change_the_products_is_no_store_question(message):
    assert plan_turn(message, SHOWN, has_previous_search=True).intent != "policy"
