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


# Card numbers as shops say them ("3号"), verbs after the card, questions about one card, and
# praise or dislike said of a card: phrasings written apart from the tables' own examples.
@pytest.mark.parametrize(
    ("message", "intent", "ids"),
    [
        ("3号详细说说", "details", ["33"]),
        ("二号怎么样", "details", ["22"]),
        ("2号包有多大啊", "details", ["22"]),
        ("第一个鞋跟多高", "details", ["11"]),
        ("第一个我要了", "add_to_cart", ["11"]),
        ("要2号那个", "add_to_cart", ["22"]),
        ("三号帮我加一下", "add_to_cart", ["33"]),
        ("1和3哪个更适合通勤", "compare", ["11", "33"]),
        ("2号跟3号材质一样吗", "compare", ["22", "33"]),
        ("第一款和第三款比比", "compare", ["11", "33"]),
        ("看看第二个和第三个", "details", ["22", "33"]),
        ("2号不是我的菜", "dislike", ["22"]),
        ("第三款一般般吧", "dislike", ["33"]),
        ("1号绝了", "like", ["11"]),
        ("第二个有点心动", "like", ["22"]),
        ("像1号这样的再来几款", "similar", ["11"]),
        ("和3号一样风格的有吗", "similar", ["33"]),
        ("干嘛推2号", "why", ["22"]),
        ("第一个是根据什么推荐的", "why", ["11"]),
        ("看下购物车", "view_cart", []),
        ("我都加了啥", "view_cart", []),
        ("清空购物车", "remove_from_cart", []),
        ("今天下单明天能到吗", "policy", []),
        ("买了不合适能退吗", "policy", []),
        ("怎么查物流", "policy", []),
        ("还有别的款吗", "more", []),
        ("再往后翻翻", "more", []),
        ("就这几个吗", "more", []),
        ("亲 在吗", "greeting", []),
        ("谢啦", "greeting", []),
        ("给我妈买的", "refine", []),
        ("去掉耐克", "refine", []),
    ],
)
def test_chinese_phrasings_beyond_the_first_tables(message, intent, ids):
    p = plan(message)
    assert (p.intent, p.product_ids, p.problem) == (intent, ids, None)


def test_a_card_number_that_is_a_size_or_a_date_is_no_card():
    # "38号" is a shoe size and "5月3号" a date: neither points at a card.
    assert plan("有38号的吗").product_ids == []
    assert plan("5月3号能到吗").intent == "policy"


def test_more_said_loosely_with_a_product_type_is_a_search():
    assert plan("还有别的运动鞋吗").intent == "search"


@pytest.mark.parametrize("no", ["我再想想", "下次吧", "暂时不用", "还是算了吧", "嗯…先不要", "先这样吧"])
def test_not_now_is_a_refusal(no):
    assert plan(no, pending_confirmation=True).intent == "deny"


@pytest.mark.parametrize("yes", ["好滴", "嗯呢", "好的呢", "行吧"])
def test_colloquial_yes(yes):
    assert plan(yes, pending_confirmation=True).intent == "confirm"


@pytest.mark.parametrize(
    ("message", "intent", "ids"),
    [
        ("buy 2", "add_to_cart", ["22"]),
        ("I want number 3", "add_to_cart", ["33"]),
        ("3 is so cute!", "like", ["33"]),
        ("not a fan of #2", "dislike", ["22"]),
        ("2 isn't my style", "dislike", ["22"]),
        ("how did you pick the 2nd one", "why", ["22"]),
        ("are you there?", "greeting", []),
    ],
)
def test_english_phrasings_beyond_the_first_tables(message, intent, ids):
    p = plan(message)
    assert (p.intent, p.product_ids, p.problem) == (intent, ids, None)


@pytest.mark.parametrize("no", ["not now", "maybe later", "I'll think about it", "don't add it"])
def test_english_not_now_is_a_refusal(no):
    assert plan(no, pending_confirmation=True).intent == "deny"


def test_the_same_kind_in_a_colour_refines():
    # "同款有黑色吗": the same search in black, not products similar to one shown.
    assert plan("同款有黑色吗").intent == "refine"


def test_not_what_i_wanted_is_a_dislike():
    assert (plan("第一款不是我想要的").intent, plan("第一款不是我想要的").product_ids) == ("dislike", ["11"])


@pytest.mark.parametrize(
    ("message", "intent", "ids"), [("Add item 1 please", "add_to_cart", ["11"]), ("which is better, 1st or 2nd", "compare", ["11", "22"])]
)
def test_english_add_an_item_and_compare_asked_first(message, intent, ids):
    p = plan(message)
    assert (p.intent, p.product_ids) == (intent, ids)
