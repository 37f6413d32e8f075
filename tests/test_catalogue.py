"""Catalogue loading: the generic schema, the KAGL mapping, bad rows, stable ids."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assistant.catalogue.loader import brand_from_title, fill_brands_from_known, load_catalogue, parse_price
from assistant.catalogue.schema import Product, point_id
from assistant.errors import CatalogueError, ConfigError


def test_kagl_maps_onto_the_generic_schema(kagl_csv):
    cat = load_catalogue(kagl_csv, limit=200)
    assert cat.mapping == "kagl"
    assert len(cat.products) == 200 and not cat.issues
    p = next(p for p in cat.products if p.id == "15970")
    assert p.name == "Turtle Check Men Navy Blue Shirt"
    assert p.category_path == ["Apparel", "Topwear", "Shirts"]
    assert (p.colour, p.gender, p.category) == ("Navy Blue", "Men", "Shirts")
    assert p.attributes["usage"] == "Casual" and p.attributes["season"] == "Fall"
    assert p.image is not None and p.image.is_file()
    assert p.price is None and p.description is None


def test_the_whole_kagl_catalogue_loads(kagl_csv):
    cat = load_catalogue(kagl_csv)
    assert len(cat.products) == 44_446
    assert sum(p.image is not None for p in cat.products) == 8_659


GENERIC_ROWS = [
    {"id": "a1", "name": "Trail Runner", "price": "$1,299.50", "category": "Footwear > Shoes > Running", "in_stock": "yes"},
    {"id": "", "name": "No id"},
    {"id": "a2", "name": "Bad price", "price": "cheap"},
    {"id": "a1", "name": "Duplicate"},
    {"id": "a3", "name": "Plain", "colour": "Red", "material": "cotton"},
]


def _check_generic(cat):
    assert [p.id for p in cat.products] == ["a1", "a3"]
    reasons = {i.row: i.reason for i in cat.issues}
    assert reasons[2] == "missing id"
    assert "unparseable price" in reasons[3]
    assert "duplicate id" in reasons[4]
    a1 = cat.products[0]
    assert a1.price == 1299.5 and a1.in_stock is True
    assert a1.category_path == ["Footwear", "Shoes", "Running"]
    assert cat.products[1].attributes == {"material": "cotton"}


def test_jsonl_bad_rows_are_reported_not_fatal(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in GENERIC_ROWS) + "\n{broken\n")
    cat = load_catalogue(f)
    _check_generic(cat)
    assert any("invalid JSON" in i.reason for i in cat.issues)


def test_csv_and_parquet_read_the_same(tmp_path):
    cols = ["id", "name", "price", "category", "in_stock", "colour", "material"]
    rows = [{c: r.get(c, "") for c in cols} for r in GENERIC_ROWS]
    f = tmp_path / "c.csv"
    f.write_text(",".join(cols) + "\n" + "\n".join(",".join(f'"{r[c]}"' for c in cols) for r in rows))
    _check_generic(load_catalogue(f))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet")
    _check_generic(load_catalogue(tmp_path / "c.parquet"))


def test_unreadable_files_raise_catalogue_error(tmp_path):
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "missing.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(CatalogueError, match="unsupported"):
        load_catalogue(tmp_path / "x.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path / "bad.parquet")


def test_unknown_mapping_names_the_choices(kagl_csv):
    with pytest.raises(ConfigError, match="generic"):
        load_catalogue(kagl_csv, mapping="nope")


@pytest.mark.parametrize(("raw", "value"), [("12", 12.0), ("$1,299.00", 1299.0), (9.5, 9.5), ("", None), (None, None), ("EUR 30", 30.0)])
def test_parse_price(raw, value):
    assert parse_price(raw) == value


@pytest.mark.parametrize("raw", ["free", "-5", "1.2.3"])
def test_parse_price_rejects(raw):
    with pytest.raises(ValueError):
        parse_price(raw)


def test_brand_from_title():
    assert brand_from_title("Puma Men Black Shoes") == "Puma"
    assert brand_from_title("United Colors of Benetton Women Red Top") == "United Colors of Benetton"
    assert brand_from_title("Men Black Shoes") is None
    assert brand_from_title("Nike Men's Lunarswift Shoe") == "Nike"
    assert brand_from_title("Arrow Woman Sweater") == "Arrow"


def test_titles_without_a_gender_word_get_a_brand_the_catalogue_knows():
    def product(pid: str, name: str) -> Product:
        return Product(id=pid, name=name, brand=brand_from_title(name))

    products = [
        product("1", "Nike Men Black Shoe"),
        product("2", "Nike Women Red Top"),
        product("3", "Red Tape Men Brown Shoe"),
        product("4", "Red Tape Men Black Shoe"),
        product("5", "Fabindia Men Kurta"),  # seen once: not enough to name others
        product("6", "Nike Lunarswift Shoe"),
        product("7", "Red Tape Leather Belt"),
        product("8", "Fabindia Blue Kurta"),
        product("9", "Black Leather Belt"),
    ]
    brands = {p.id: p.brand for p in fill_brands_from_known(products)}
    assert brands["6"] == "Nike" and brands["7"] == "Red Tape"
    assert brands["8"] is None and brands["9"] is None


def test_kagl_titles_without_gender_words_get_their_brand(kagl_csv):
    cat = load_catalogue(kagl_csv)
    named = {p.id: p for p in cat.products}
    nike_unbranded = [p for p in cat.products if p.name.startswith("Nike ") and not (p.brand or "").startswith("Nike")]
    assert not nike_unbranded, [p.name for p in nike_unbranded[:5]]
    assert sum(p.brand is None for p in cat.products) < 0.03 * len(named)


def test_point_ids_are_stable_and_distinct():
    a = point_id("kagl", "15970")
    assert a == point_id("kagl", "15970")
    assert a != point_id("kagl", "15971") and a != point_id("other", "15970")
    # Pinned: a changed namespace would silently duplicate every existing index on re-ingest.
    assert a == "89dc94ce-f4c1-511c-8c95-d6e981d9ee6a"


def test_texts_derived_from_a_product():
    p = Product(id="1", name="Puma Men Black Shoes", brand="Puma", category_path=["Footwear", "Shoes", "Casual Shoes"], colour="Black", gender="Men")
    assert p.clip_caption() == "Puma Men Black Shoes. Casual Shoes, Black, Men"
    assert "Casual Shoes" in p.full_text() and p.full_text().count("Puma") == 1
