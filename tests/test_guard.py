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
    why = Guard(FACTS, VOCAB).violation(sentence)
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
