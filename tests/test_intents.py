"""The planner's exemplar fallback in Chinese: a phrasing no Chinese rule lists takes its
nearest exemplars' intent in the multilingual encoder's space (real model: multilingual-e5-small)."""

import pytest

from assistant.intents import IntentsByLanguage, chinese_intents
from assistant.planner import ShownProduct, plan_turn
from tests.test_understanding import VOCAB

pytestmark = pytest.mark.model

SHOWN = [ShownProduct("11", "Titan Men Black Watch", "Watches", "Black"), ShownProduct("22", "Puma Men Red Sports Shoes", "Sports Shoes", "Red")]


@pytest.fixture(scope="module")
def intents():
    return IntentsByLanguage({"zh": chinese_intents})


def plan(message, intents):
    return plan_turn(message, SHOWN, None, True, False, False, VOCAB, intents)


def test_a_phrasing_no_rule_lists_takes_its_exemplars_intent(intents):
    assert plan("购物车里装了些啥", None).intent == "search"  # the rules alone miss it
    assert plan("购物车里装了些啥", intents).intent == "view_cart"
    assert plan("收货后可以退吗", intents).intent == "policy"


def test_a_chinese_search_stays_a_search(intents):
    for message in ("我想买一双白色的运动鞋", "男士蓝色T恤", "给我来个笑话"):
        assert plan(message, intents).intent == "search", message


def test_an_uncertain_guess_leaves_the_rules_answer(intents):
    g = intents.for_language("zh").nearest("这个为啥会出现在这")
    assert g.margin < intents.for_language("zh").margin  # too close to call
    assert intents.for_language("zh").guess("这个为啥会出现在这") is None


def test_english_has_no_table_here(intents):
    assert intents.for_language("en") is None
