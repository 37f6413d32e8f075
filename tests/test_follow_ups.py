"""Follow-ups after a search, in both languages: what the planner makes of ordinary ways of
going on from five shown watches (positions, steps, the middle one, the cart's lines, "that
colour", going back, questions across the shown, things to wear with one, a dislike that
asks for others). Many phrasings here are in none of the planner's tables."""

import pytest

from assistant.planner import ShownProduct, plan_turn, which_question
from tests.test_understanding import VOCAB

WATCHES = [
    ShownProduct("w1", "Titan Men Black Watch", "Watches", "Black"),
    ShownProduct("w2", "Fossil Men Blue Watch", "Watches", "Blue"),
    ShownProduct("w3", "Casio Men Silver Watch", "Watches", "Silver"),
    ShownProduct("w4", "Timex Men Brown Watch", "Watches", "Brown"),
    ShownProduct("w5", "Police Men Black Watch", "Watches", "Black"),
]
CART = [ShownProduct("c1", "Puma Men Red Sports Shoes"), ShownProduct("c2", "Nike Men Blue Tshirt")]


def plan(message, focus=None, **kw):
    return plan_turn(message, WATCHES, focus, has_previous_search=True, vocabulary=VOCAB, cart=CART, **kw)


@pytest.mark.parametrize(
    ("message", "intent", "ids"),
    [
        # the follow-ups
        ("do you have it in blue?", "refine", []),
        ("same thing but for women", "refine", []),
        ("I'd rather have something less pricey", "refine", []),
        ("how much is the second one", "details", ["w2"]),
        ("which of these is the cheapest?", "which", ["w1", "w2", "w3", "w4", "w5"]),
        ("can you show me the 2nd and 4th", "details", ["w2", "w4"]),
        ("get rid of the first item from my cart", "remove_from_cart", ["c1"]),
        ("actually I need it for my daughter", "refine", []),
        ("go back to the previous results", "back", []),
        ("hmm, can I see that one in the middle?", "details", ["w3"]),
        # others like them
        ("let me look at number 5", "details", ["w5"]),
        ("what is number 2 like?", "details", ["w2"]),
        ("the middle one", "details", ["w3"]),
        ("remove the second item in my basket", "remove_from_cart", ["c2"]),
        ("take me back to the earlier search", "back", []),
        ("which one is the newest?", "which", ["w1", "w2", "w3", "w4", "w5"]),
        ("are any of these waterproof?", "which", ["w1", "w2", "w3", "w4", "w5"]),
        ("contrast the top two", "compare", ["w1", "w2"]),
        ("put the first two side by side", "compare", ["w1", "w2"]),
        ("what have I got so far", "view_cart", []),
        ("more like number 4", "similar", ["w4"]),
        ("can I get these for women", "refine", []),
        # Chinese
        ("这些里哪个最便宜？", "which", ["w1", "w2", "w3", "w4", "w5"]),
        ("看看第二个和第四个", "details", ["w2", "w4"]),
        ("删掉购物车里的第一个", "remove_from_cart", ["c1"]),
        ("中间那个", "details", ["w3"]),
        ("回到之前的结果", "back", []),
        ("返回上一次的搜索", "back", []),
        ("给我女儿买的", "refine", []),
    ],
)
def test_follow_ups(message, intent, ids):
    p = plan(message)
    assert (p.intent, p.product_ids, p.problem) == (intent, ids, None)


@pytest.mark.parametrize(
    ("message", "focus", "ids"),
    [
        ("the one after that", "w2", ["w3"]),
        ("and the next one?", "w3", ["w4"]),
        ("the one before that", "w2", ["w1"]),
        ("下一个", "w2", ["w3"]),
        ("看看前一个", "w4", ["w3"]),
    ],
)
def test_a_step_from_the_product_in_focus(message, focus, ids):
    p = plan(message, focus=focus)
    assert (p.intent, p.product_ids) == ("details", ids)


def test_a_step_past_the_end_is_a_problem_not_a_guess():
    p = plan("the one after that", focus="w5")
    assert p.product_ids == [] and "only 5" in (p.problem or "")


@pytest.mark.parametrize(
    ("message", "focus", "colour"),
    [
        ("what else do you have in that colour", "w2", "blue"),
        ("anything else in the same color?", "w5", "black"),
        ("这个颜色还有别的吗", "w2", "blue"),
    ],
)
def test_that_colour_is_the_colour_of_the_product_in_focus(message, focus, colour):
    p = plan(message, focus=focus)
    assert p.intent == "refine" and colour in (p.text or "")


@pytest.mark.parametrize("message", ["let's see some shirts to go with it", "a belt that goes with the second one", "来几件配它的衬衫"])
def test_things_to_wear_with_a_shown_product_search_for_its_wearer(message):
    p = plan(message, focus="w1")
    assert p.intent == "search" and p.goes_with in {"w1", "w2"}


@pytest.mark.parametrize(
    "message", ["these are too flashy, something more subtle", "not really my style, show me others", "这些太花了，换点素一点的"]
)
def test_a_dislike_of_the_shown_that_asks_for_others(message):
    p = plan(message)
    assert p.intent == "dislike" and p.show_others and p.product_ids


def test_a_dislike_alone_shows_nothing_new():
    p = plan("I don't like the third one")
    assert (p.intent, p.product_ids, p.show_others) == ("dislike", ["w3"], False)


@pytest.mark.parametrize(
    ("message", "language", "order", "words"),
    [
        ("which of these is the cheapest?", "en", "price_asc", ()),
        ("which one costs the most", "en", "price_desc", ()),
        ("which is the latest model?", "en", "year_desc", ()),
        ("which of these is waterproof?", "en", None, ("waterproof",)),
        ("which ones are leather", "en", None, ("leather",)),
        ("which would you recommend?", "en", None, ()),
        ("哪个最便宜", "zh", "price_asc", ()),
        ("这些里哪个是最新的", "zh", "year_desc", ()),
    ],
)
def test_what_a_which_question_asks(message, language, order, words):
    q = which_question(message, language)
    assert (q.order, q.words) == (order, words)


def test_a_which_question_with_nothing_shown_is_a_search():
    assert plan_turn("which shoes are best for running?", [], vocabulary=VOCAB).intent == "search"
