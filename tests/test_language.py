"""Normalising messages, telling their language, and bridging Chinese words onto the catalogue's."""

import copy

import pytest

from assistant.errors import QueryError
from assistant.language.text import detect_language, normalise
from assistant.language.zh import chinese_bridge, chinese_number, load_lexicon
from assistant.messages import check_messages
from assistant.retrieval.understanding import Vocabulary, parse_query
from tests.test_understanding import VOCAB as EN_VOCAB

# The English tests' catalogue vocabulary, with the article types these Chinese queries name.
VOCAB = copy.deepcopy(EN_VOCAB)
VOCAB.category |= {"heels", "dresses", "formal shoes", "socks", "handbags"}


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("￥３００以下的紅色連衣裙", "¥300以下的红色连衣裙"),  # full-width forms, Traditional characters
        ("女士黑色高跟鞋👠✨", "女士黑色高跟鞋"),  # emoji carry no shopping words
        ("  red   sneakers ", "red sneakers"),
        ("運動鞋，男款！", "运动鞋,男款!"),
    ],
)
def test_normalise(raw, normalised):
    assert normalise(raw) == normalised


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("女士黑色高跟鞋", "zh"),
        ("Nike 黑色运动鞋 男", "zh"),
        ("红色的 kurta", "zh"),
        ("red sneakers for men", "en"),
        ("la la land tshirt", "en"),
        ("#3", "en"),
        ("Je cherche des chaussures rouges", "other"),
        ("Quiero unos zapatos negros", "other"),
        ("Ich suche eine schwarze Jacke", "other"),
        ("黒いスニーカーが欲しい", "other"),  # Japanese: kana beside the Han characters
        ("Хочу черные кроссовки", "other"),
    ],
)
def test_detect_language(message, language):
    assert detect_language(normalise(message)) == language


def test_lexicon_is_well_formed():
    lexicon = load_lexicon()
    assert len(lexicon) > 400
    assert lexicon["高跟鞋"] == "heels" and lexicon["耐克"] == "nike"


@pytest.mark.parametrize(("cn", "n"), [("三百", 300), ("三百五十", 350), ("两千", 2000), ("十五", 15), ("五十", 50)])
def test_chinese_numbers(cn, n):
    assert chinese_number(cn) == n


@pytest.mark.parametrize(
    ("message", "english", "residue"),
    [
        ("我想买一件黑色的男士T恤", "black men tshirts", []),
        ("给我女儿买双粉色凉鞋", "girls pink sandals", []),
        ("300元以下的红色连衣裙", "under 300 red dresses", []),
        ("三百元以内的皮鞋", "under 300 formal shoes", []),
        ("200到500元的手表", "between 200 and 500 watches", []),
        ("不要耐克", "not nike", []),
        ("Nike 黑色运动鞋 男", "Nike black sports shoes men", []),
        ("明天天气怎么样", "", ["明天", "天气", "怎么样"]),
    ],
)
def test_bridge(message, english, residue):
    b = chinese_bridge().to_english(normalise(message))
    assert b.text == english
    assert b.residue == residue


CASES = [
    ("女士黑色高跟鞋", {"colour": ["black"], "gender": ["women", "unisex"], "category": ["heels"]}),
    ("我想买一件黑色的男士T恤", {"colour": ["black"], "gender": ["men", "unisex"], "category": ["tshirts"]}),
    ("Nike 黑色运动鞋 男", {"brand": ["nike"], "colour": ["black"], "gender": ["men", "unisex"], "category": ["sports shoes"]}),
    ("運動鞋 男款 不要耐克", {"category": ["sports shoes"], "gender": ["men", "unisex"], "exclude_brand": ["nike"]}),
    ("藏青色休闲鞋", {"colour": ["navy blue"], "category": ["casual shoes"]}),
    ("给老公买块手表", {"category": ["watches"], "gender": ["men", "unisex"]}),
    ("儿童灰色T恤", {"colour": ["grey"], "category": ["tshirts"], "gender": ["boys", "girls"]}),
    ("秋天穿的牛仔裤", {"season": ["fall"], "category": ["jeans"]}),
    ("红色的 jeans", {"colour": ["red"], "category": ["jeans"]}),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_chinese_phrasings_become_the_same_filters(query, expected):
    parsed = parse_query(query, VOCAB)
    assert parsed.language == "zh"
    for name in ("colour", "gender", "category", "brand", "exclude_brand", "season", "usage"):
        assert sorted(getattr(parsed.filters, name)) == sorted(expected.get(name, [])), name


def test_chinese_matches_name_the_chinese_words():
    parsed = parse_query("女士黑色高跟鞋", VOCAB)
    assert {(m.phrase, m.field, m.value) for m in parsed.matches} >= {("黑色", "colour", "black"), ("高跟鞋", "category", "heels")}


@pytest.mark.parametrize(
    ("query", "lo", "hi"),
    [("￥３００以下的运动鞋", None, 300.0), ("100到200元的T恤", 100.0, 200.0), ("五十元以上的袜子", 50.0, None)],
)
def test_chinese_prices(query, lo, hi):
    f = parse_query(query, VOCAB).filters
    assert (f.price_min, f.price_max) == (lo, hi)


def test_chinese_price_range_reversed_is_refused():
    with pytest.raises(QueryError):
        parse_query("500到200元的手表", VOCAB)


def test_a_long_chinese_message_is_refused():
    with pytest.raises(QueryError, match="2,001"):
        parse_query("黑" * 2001, VOCAB)


def test_every_message_has_both_languages():
    check_messages()


@pytest.mark.parametrize(
    ("heard", "mended"),
    [
        ("给爸爸买银色的泡鞋", "给爸爸买银色的跑鞋"),
        ("我想买一件饮色的手表", "我想买一件银色的手表"),
        ("女士黑色高跟鞋", "女士黑色高跟鞋"),
        ("是的，一下", "是的，一下"),
    ],
)
def test_a_transcript_is_mended_by_sound_onto_catalogue_words(heard, mended):
    from assistant.language.zh import homophones

    assert homophones().mend(heard)[0] == mended


@pytest.mark.parametrize(
    ("word", "english"),
    [
        # compounds no lexicon row names, read by their head character
        ("石英表", "watches"), ("渔夫帽", "caps"), ("阔腿裤", "trousers"), ("工装裤", "trousers"), ("打底衫", "tops"),
        ("马丁靴", "booties"), ("雪地靴", "booties"), ("船袜", "socks"), ("沙滩拖", "flip flops"), ("百褶裙", "skirts dresses"),
        ("休闲裤", "casual trousers"),
        # everyday words that merely end in a head character name no product
        ("代表", ""), ("发表", ""), ("面包", ""), ("报表", ""), ("毛巾", ""),
    ],
)  # fmt: skip
def test_words_the_lexicon_lacks_are_read_by_their_head_character(word, english):
    assert chinese_bridge().to_english(word).text == english


def test_a_compound_search_gets_its_product_type():
    vocab = Vocabulary(colour={"black"}, gender={"men", "women", "unisex"}, category={"booties", "trousers"}, brand=set(), season=set(), usage=set())
    parsed = parse_query("男士黑色马丁靴", vocab)
    assert parsed.filters.category == ["booties"] and parsed.filters.colour == ["black"]


def test_the_head_table_is_well_formed_and_the_benchmark_compounds_are_not_lexicon_words():
    from assistant.language.zh import HEADS_FILE
    from benchmarks.make_zh_queries import COMPOUNDS

    heads = load_lexicon(HEADS_FILE)
    assert heads and all(len(ch) == 1 for ch in heads)
    lexicon = load_lexicon()
    assert not [w for words in COMPOUNDS.values() for w in words if w in lexicon]
