"""The grounding guard: a model's sentence may state only the turn's facts."""

from __future__ import annotations

import pytest

from assistant.llm.guard import Guard
from assistant.llm.wording import LeadPrompt
from assistant.retrieval.understanding import Vocabulary

VOCAB = Vocabulary(
    colour={"black", "navy blue", "red"},
    gender={"men", "women"},
    category={"shoes", "sports shoes", "watches"},
    brand={"nike", "puma", "only", "and"},
    season={"summer"},
    usage={"casual", "party"},
)
FACTS = "showing products: running shoes; gender: men; colour: black. 1. Nike Men Black Shoe; 2. Nike Men Black Runner. 120 match"


@pytest.mark.parametrize(
    ("sentence", "problem"),
    [
        ("Here are some black running shoes for men.", None),
        ("Here is a black shoe for men.", None),  # singular of a term in the facts
        ("Here are shoes and more, only the best.", None),  # brands that are plain English words claim nothing
        ("We have 120 of them.", None),
        ("Here are some red shoes for men.", "'red'"),
        ("Here are some navy blue shoes.", "'navy blue'"),
        ("These Puma shoes are great.", "'puma'"),
        ("Perfect for women too.", "'women'"),
        ("They cost 15 each.", "15"),
        ("Only $9 today!", "9"),
        ("Great for a party.", None),  # usage "party" is also an English word
        ("Ideal for summer.", "'summer'"),
        ("Prices start at 120 dollars.", "price"),
    ],
)
def test_sentences_are_checked_against_the_facts(sentence, problem):
    assert_verdict(Guard(FACTS, VOCAB).violation(sentence), problem)


def assert_verdict(why: str | None, problem: str | None) -> None:
    """`problem` None: the sentence may be said; else the refusal's reason names it."""
    if problem is None:
        assert why is None, why
    else:
        assert why is not None and problem in why, why


def test_the_shoppers_numbers_are_not_facts():
    # "say the price is $1": the 1 is in the message, never in the facts, so it cannot be said.
    assert Guard("showing products: watches", VOCAB).violation("The price is $1.") is not None


def test_prompts_load_from_the_prompts_folder():
    p = LeadPrompt.load()
    assert "NOTE" in p.system and len(p.examples) >= 6
    msgs = p.messages("x" * 5000, "greeting")
    assert msgs[0].type == "system" and msgs[-1].type == "human"
    assert len(msgs[-1].content) < 400, "a long paste is cut before it reaches the model"


POLICY_FACTS = (
    "store policy: Up to 2 exchanges an order. Orders ship within 1 business day; delivery takes 3 to 5 business days. "
    "Returns within 30 days. 10% off."
)


@pytest.mark.parametrize(
    ("sentence", "problem"),
    [
        ("Delivery takes 3 to 5 business days.", None),
        ("Delivery takes 3-5 business days.", None),  # the same range, written otherwise
        ("It arrives within 5 business days.", None),  # one end of the stated range
        ("You can return it within 30 days.", None),
        ("We offer a 30-day return window.", None),
        ("Shipping takes 2-3 business days.", "2-3 business day"),  # its digits occur in the facts, the range does not
        ("Delivery takes 3 to 5 days.", "3-5 day"),  # business days are not days
        ("Returns are accepted within 3 days.", "3 day"),
        ("You get 5% off.", "5 percent"),
        ("Delivery takes 1 to 3 weeks.", "week"),
        ("Delivery takes 1-3.", "range"),  # a bare range claims both ends
        ("送货需要3到5个工作日。", None),
        ("送货需要2到3个工作日。", "2-3 business day"),
        ("30天内可以退货。", None),
        ("3天内可以退货。", "3 day"),
    ],
)
def test_quantities_must_be_stated_with_their_unit(sentence, problem):
    assert_verdict(Guard(POLICY_FACTS, VOCAB).violation(sentence), problem)


@pytest.mark.parametrize(
    "sentence",
    [
        "Sorry, I don't have any shoes that match your criteria.",
        "Unfortunately I couldn't find black shoes.",
        "There are no products like that.",
        "Nothing matched your search.",
        "抱歉，没有找到符合的商品。",
    ],
)
def test_a_sentence_denying_results_is_refused_when_cards_were_shown(sentence):
    assert "denies results" in (Guard(FACTS, VOCAB, shown=5).violation(sentence) or "")
    # With nothing shown, saying so is the truth (other checks may still apply).
    assert "denies" not in (Guard(FACTS, VOCAB, shown=0).violation(sentence) or "")


@pytest.mark.parametrize(
    "sentence",
    [
        'The second product, "Idee Men Casual White Sunglasses", is the only one that matches your criteria.',
        "Only one of them fits what you asked for.",
        "只有一款符合您的要求。",
    ],
)
def test_a_sentence_calling_one_product_the_only_match_is_refused_when_several_were_shown(sentence):
    assert "only match" in (Guard(FACTS, VOCAB, shown=5).violation(sentence) or "")
    assert "only match" not in (Guard(FACTS, VOCAB, shown=1).violation(sentence) or ""), "with one shown it may be true"


def test_a_sentence_naming_a_dropped_filter_is_refused():
    facts = "showing products: handbags; colour: black. Nothing matched every filter, so I dropped: colour is black. 1. Baggit Pink Handbag"
    guard = Guard(facts, VOCAB, shown=5, relaxed=["colour is black"])
    assert "dropped" in (guard.violation("Here are some black handbags.") or "")
    assert guard.violation("Here are some handbags.") is None
    # "brand is not X" dropped is not a value the cards claim to have.
    assert Guard(FACTS, VOCAB, shown=5, relaxed=["brand is not nike"]).violation("Here are black shoes for men.") is None
