"""Query understanding: a table of shopper phrasings and the filters they must become."""

import pytest

from assistant.errors import QueryError
from assistant.retrieval.understanding import Vocabulary, parse_query

VOCAB = Vocabulary(
    colour={"black", "navy blue", "red", "grey", "white", "blue"},
    gender={"men", "women", "boys", "girls", "unisex"},
    category={"footwear", "shoes", "sandals", "watches", "casual shoes", "sports shoes", "tshirts", "apparel", "jeans"},
    brand={"nike", "puma", "red tape", "adidas"},
    season={"summer", "fall", "winter"},
    usage={"casual", "sports", "formal"},
)

CASES = [
    ("red sneakers for men", {"colour": ["red"], "gender": ["men", "unisex"]}),
    ("black sandals for men", {"colour": ["black"], "gender": ["men", "unisex"], "category": ["sandals"]}),
    ("Navy Blue T-Shirt for women", {"colour": ["navy blue"], "category": ["tshirts"], "gender": ["women", "unisex"]}),
    ("a watch for her", {"category": ["watches"], "gender": ["women", "unisex"]}),
    ("running shoes not nike", {"category": ["shoes"], "exclude_brand": ["nike"]}),
    ("red tape shoes", {"brand": ["red tape"], "category": ["shoes"]}),
    ("gray tshirts for kids", {"colour": ["grey"], "category": ["tshirts"], "gender": ["boys", "girls"]}),
    ("casual shoes", {"category": ["casual shoes"]}),
    ("autumn jeans", {"season": ["fall"], "category": ["jeans"]}),
    ("formal shirt", {"usage": ["formal"]}),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_phrasings_become_filters(query, expected):
    f = parse_query(query, VOCAB).filters
    for name in ("colour", "gender", "category", "brand", "exclude_brand", "season", "usage"):
        assert sorted(getattr(f, name)) == sorted(expected.get(name, [])), name


@pytest.mark.parametrize(
    ("query", "lo", "hi"),
    [
        ("shoes under 50", None, 50),
        ("shoes under $50", None, 50),
        ("watch below 1,200 rupees", None, 1200),
        ("bag between 20 and 40", 20, 40),
        ("bag from 20 to 40 dollars", 20, 40),
        ("jeans $30-$60", 30, 60),
        ("a watch over 100", 100, None),
        ("at least 25 usd", 25, None),
    ],
)
def test_price_phrasings(query, lo, hi):
    f = parse_query(query, VOCAB).filters
    assert (f.price_min, f.price_max) == (lo, hi)


def test_price_words_leave_the_semantic_text():
    p = parse_query("black shoes under 50", VOCAB)
    assert "50" not in p.text and "under" not in p.text
    assert "black shoes" in p.text


def test_excluded_brand_leaves_the_semantic_text():
    p = parse_query("running shoes not nike", VOCAB)
    assert "nike" not in p.text.lower()


def test_cheapest_asks_for_price_order():
    assert parse_query("cheapest black shoes", VOCAB).sort == "price_asc"
    assert parse_query("black shoes", VOCAB).sort is None


def test_unknown_words_stay_semantic_and_make_no_filter():
    p = parse_query("sneakers with a retro vibe", VOCAB)
    assert p.filters.is_empty()
    assert p.text == "sneakers with a retro vibe"


def test_words_inside_other_words_do_not_match():
    # "redesigned" contains "red", "shoesmith" contains "shoe": neither is a filter.
    assert parse_query("redesigned classics", VOCAB).filters.is_empty()


@pytest.mark.parametrize("bad", ["", "   ", "x" * 10_000, "shoes between 50 and 20"])
def test_bad_queries_raise_query_error(bad):
    with pytest.raises(QueryError):
        parse_query(bad, VOCAB)


WORDY_BRANDS = Vocabulary(
    colour={"black", "pink"}, gender={"men", "women"}, category={"handbags", "jeans", "bra"}, brand={"only", "pieces", "strapless", "nike"}
)


@pytest.mark.parametrize(
    ("query", "brand"),
    [
        ("only black ones", []),  # "only" restricts, it names no brand
        ("Only black ones", []),  # capitalised as the first word of a sentence
        ("only Black", []),  # the widget's facet chip for a colour
        ("strapless bra", []),
        ("a bag with pieces of leather", []),
        ("only Only", ["only"]),  # the widget's facet chip for the brand
        ("ONLY jeans", ["only"]),  # the label as it is printed, in a message not shouted
        ("jeans by only", ["only"]),
        ("jeans from Only", ["only"]),
        ("the brand pieces", ["pieces"]),
        ("Pieces handbags", []),  # at the start a capital says nothing
        ("black nike jeans", ["nike"]),  # brands that are no English word need no cue
    ],
)
def test_brands_that_are_ordinary_words_need_the_phrasing_to_say_so(query, brand):
    assert parse_query(query, WORDY_BRANDS).filters.brand == brand


# Kinds as a speech recogniser or a hurried shopper writes them (found in spoken queries:
# "Red lip stick.", "Cuff links for a suit.", "Flat sandals for women.", "A scarf for women").
KINDS = Vocabulary(
    colour={"red", "gold", "black"},
    gender={"men", "women"},
    category={"lipstick", "lips", "cufflinks", "suits", "flats", "sandals", "shirts", "tshirts", "sweatshirts", "dress", "scarves",
              "gloves", "kajal and eyeliner", "necklace and chains", "key chain", "handbags", "jackets", "jeans"},
    article_type={"lipstick", "cufflinks", "flats", "sandals", "shirts", "tshirts", "scarves", "gloves", "kajal and eyeliner",
                  "necklace and chains", "key chain", "handbags", "jackets", "jeans"},
)  # fmt: skip


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ("red lip stick", ["lipstick"]),  # said in parts, not the broader "lips"
        ("cuff links", ["cufflinks"]),
        ("a hand bag", ["handbags"]),
        ("sweat shirt for men", ["sweatshirts"]),
        ("flat sandals for women", ["sandals"]),  # the first of two kinds back to back modifies the second
        ("a shirt dress", ["dress"]),
        ("flats, sandals", ["flats", "sandals"]),  # a plural first is a list
        ("a blue jeans jacket", ["jackets"]),  # unless the kind has no singular
        ("jeans, jackets", ["jackets", "jeans"]),  # and nothing stands between them
        ("jeans and jackets", ["jackets", "jeans"]),
        ("a scarf for women", ["scarves"]),  # -ves plurals reached by their -f singular
        ("gloves", ["gloves"]),
        ("black eyeliner", ["kajal and eyeliner"]),  # a kind named for two things, by either
        ("a gold chain", ["necklace and chains"]),
        ("a key chain", ["key chain"]),  # a kind of its own is named whole first
        ("I like that shirt", ["shirts"]),  # "that shirt" is no T-shirt
        ("a bracelet shirt", ["shirts"]),
        ("t shirts", ["tshirts"]),
        ("a T-Shirt", ["tshirts"]),
    ],
)
def test_kinds_said_in_parts_or_with_a_modifier(query, kinds):
    assert sorted(parse_query(query, KINDS).filters.category) == kinds
