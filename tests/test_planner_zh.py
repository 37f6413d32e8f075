"""The planner in Chinese: intents, confirmations and references, with phrasings beyond its tables."""

import pytest

from assistant.planner import ShownProduct, plan_turn
from tests.test_understanding import VOCAB

SHOWN = [
    ShownProduct("11", "Titan Men Black Watch", "Watches", "Black"),
    ShownProduct("22", "Puma Men Red Sports Shoes", "Sports Shoes", "Red"),
    ShownProduct("33", "Nike Men Blue Tshirt", "Tshirts", "Blue"),
]


def plan(message, **kw):
    kw.setdefault("shown", SHOWN)
    kw.setdefault("has_previous_search", True)
    return plan_turn(message, vocabulary=VOCAB, **kw)


@pytest.mark.parametrize(
    ("message", "intent", "ids"),
    [
        ("我想买一双男士运动鞋", "search", []),
        ("第二个", "details", ["22"]),
        ("第2个呢", "details", ["22"]),
        ("购物车给我看看", "view_cart", []),
        ("几天能到货", "policy", []),
        ("再多给我看几个", "more", []),
        ("第一个不太喜欢", "dislike", ["11"]),
        ("第一款我不中意", "dislike", ["11"]),
        ("再推荐几个", "more", []),
        ("把第3个放购物车里", "add_to_cart", ["33"]),
        ("在吗", "greeting", []),
        ("介绍一下第三款", "details", ["33"]),
        ("那块手表的详细信息", "details", ["11"]),
        ("比较前两个", "compare", ["11", "22"]),
        ("第一个和第三个有什么区别", "compare", ["11", "33"]),
        ("有类似的吗", "similar", ["11"]),
        ("有没有和第二个差不多的", "similar", ["22"]),
        ("为什么推荐这个", "why", ["11"]),
        ("为啥选最后一个", "why", ["33"]),
        ("把第一个加入购物车", "add_to_cart", ["11"]),
        ("我要买红色的那个", "add_to_cart", ["22"]),
        ("购物车里有什么", "view_cart", []),
        ("看看我的购物车", "view_cart", []),
        ("把它从购物车删掉", "remove_from_cart", ["11"]),
        ("退货政策是什么", "policy", []),
        ("包邮吗", "policy", []),
        ("我不喜欢第三个", "dislike", ["33"]),
        ("第二个挺好看的", "like", ["22"]),
        ("再来一些", "more", []),
        ("换一批", "more", []),
        ("你好", "greeting", []),
        ("换成蓝色的", "refine", []),
        ("便宜一点的", "refine", []),
        ("不要耐克", "refine", []),
        ("女款的呢", "refine", []),  # not in the refine table: names only an attribute
        ("有黑色的吗", "refine", []),
        ("明天天气怎么样", "search", []),
    ],
)
def test_chinese_messages(message, intent, ids):
    p = plan(message)
    assert (p.intent, p.product_ids) == (intent, ids), message
    assert p.language == "zh"


@pytest.mark.parametrize("yes", ["确认", "好的", "好的，谢谢", "可以", "嗯", "是的"])
def test_confirmations(yes):
    assert plan(yes, pending_confirmation=True).intent == "confirm"


@pytest.mark.parametrize("no", ["不用了", "不要", "算了", "取消吧"])
def test_denials(no):
    assert plan(no, pending_confirmation=True).intent == "deny"


def test_a_reference_beyond_what_was_shown_is_said_in_chinese():
    p = plan("第五个")
    assert p.product_ids == [] and "3" in (p.problem or "") and "件商品" in (p.problem or "")


def test_english_follow_ups_that_name_only_attributes_refine():
    for message in ("do you have it in blue?", "same thing but for women", "actually I need it for my daughter"):
        assert plan(message).intent == "refine", message


def test_english_searches_with_a_product_type_stay_searches():
    assert plan("show me some black jeans").intent == "search"


def test_another_language_is_answered_honestly():
    assert plan("Je cherche des chaussures rouges").intent == "unsupported_language"


@pytest.mark.parametrize("yes", ["嗯，加吧", "好的，加上", "行", "没问题"])
def test_confirmations_of_several_yes_words(yes):
    assert plan(yes, pending_confirmation=True).intent == "confirm"


@pytest.mark.parametrize("no", ["先不要", "不用，算了", "先不加", "不加了", "先不加了"])
def test_refusals_of_several_no_words(no):
    assert plan(no, pending_confirmation=True).intent == "deny"


def test_look_at_an_ordinal_is_details():
    assert (plan("看看第三个").intent, plan("看看第三个").product_ids) == ("details", ["33"])


@pytest.mark.parametrize(
    ("message", "intent"),
    [("sure thing", "confirm"), ("yes please add it", "confirm"), ("yes, but not that one", "search"), ("nope", "deny")],
)
def test_english_confirmations_with_trailing_words(message, intent):
    assert plan(message, pending_confirmation=True).intent == intent


@pytest.mark.parametrize(("message", "ids"), [("add it", ["11"]), ("add the second", ["22"]), ("first one please, add it", ["11"])])
def test_english_add_without_naming_the_cart(message, ids):
    p = plan(message)
    assert (p.intent, p.product_ids) == ("add_to_cart", ids)
