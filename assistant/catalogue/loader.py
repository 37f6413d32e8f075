"""Reading catalogue files (CSV, JSON Lines, Parquet) into `Product`s.

A column mapping says which source column feeds which generic field. Mappings are data in
an explicit registry (`MAPPINGS`, `list_mappings()`); `detect_mapping` picks one from the
columns. Bad rows never stop a load: each becomes a `RowIssue` with its row number and
reason. Image files are only located here; decoding them is the ingest's job.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.catalogue.schema import Product
from assistant.errors import CatalogueError, ConfigError

GENDER_WORDS = ("Men", "Women", "Boys", "Girls", "Unisex", "Kids")
# The same words as titles also write them ("Nike Men's Lunarswift Shoe", "Arrow Woman Sweater").
_GENDER_FORMS = frozenset(GENDER_WORDS) | {"Men's", "Mens", "Women's", "Womens", "Woman", "Boy's", "Boys'", "Girl's", "Girls'", "Kid's", "Kids'"}
_BRAND_MAX_WORDS = 3  # "Red Rose", "Flying Machine", "United Colors of Benetton" is already four


@dataclass(frozen=True)
class ColumnMapping:
    """Source column names for the generic fields; `category` may list several columns."""

    name: str
    id: str = "id"
    title: str = "name"
    description: str | None = "description"
    brand: str | None = "brand"
    category: tuple[str, ...] = ("category",)
    colour: str | None = "colour"
    gender: str | None = "gender"
    price: str | None = "price"
    currency: str | None = "currency"
    in_stock: str | None = "in_stock"
    image: str | None = "image"
    # Columns copied into `attributes` as they are; every other unmapped column is too.
    brand_from_title: bool = False


MAPPINGS: dict[str, ColumnMapping] = {
    "generic": ColumnMapping(name="generic"),
    # KAGL: no brand column (the brand leads the title, before the gender word), a
    # three-level category, no prices, descriptions or stock.
    "kagl": ColumnMapping(
        name="kagl",
        category=("master_category", "sub_category", "article_type"),
        colour="base_colour",
        description=None,
        brand=None,
        price=None,
        currency=None,
        in_stock=None,
        brand_from_title=True,
    ),
}


def list_mappings() -> list[str]:
    """Names of the known column mappings."""
    return sorted(MAPPINGS)


def get_mapping(name: str) -> ColumnMapping:
    """The mapping called `name`; a miss names the valid choices."""
    try:
        return MAPPINGS[name]
    except KeyError:
        raise ConfigError(f"unknown catalogue mapping {name!r}; choose one of {list_mappings()}") from None


def detect_mapping(columns: list[str]) -> ColumnMapping:
    """KAGL when its distinctive columns are there, else the generic schema."""
    if {"article_type", "base_colour", "master_category"} <= set(columns):
        return MAPPINGS["kagl"]
    return MAPPINGS["generic"]


@dataclass(frozen=True)
class RowIssue:
    """A row that was skipped or partly used, with why."""

    row: int  # 1-based data row number (header excluded)
    product_id: str | None
    reason: str


@dataclass
class Catalogue:
    """A loaded catalogue: its products in file order and the rows that had problems."""

    source: Path
    mapping: str
    products: list[Product] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            yield from csv.DictReader(f)
    elif suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    # A broken line is a bad row, reported like any other.
                    yield {"__error__": f"invalid JSON on line {line_no}: {e.msg}"}
                    continue
                yield obj if isinstance(obj, dict) else {"__error__": f"line {line_no} is not a JSON object"}
    elif suffix == ".parquet":
        import pyarrow.parquet as pq  # only catalogues in Parquet pay for pyarrow

        table = pq.read_table(path)
        for batch in table.to_batches():
            yield from batch.to_pylist()
    else:
        raise CatalogueError(f"{path}: unsupported catalogue format {suffix!r}; use .csv, .jsonl or .parquet")


def _columns(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    for row in _read_rows(path):
        return [k for k in row if k != "__error__"]
    return []


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


_PRICE = re.compile(r"^[^\d\-+]*([-+]?\d[\d,]*(?:\.\d+)?)\s*[^\d]*$")


def parse_price(value: Any) -> float | None:
    """A price from a number or a string like "$1,299.00"; None when empty; ValueError when unparseable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float):
        price = float(value)
    else:
        m = _PRICE.match(str(value).strip())
        if not m:
            raise ValueError(f"unparseable price {value!r}")
        price = float(m.group(1).replace(",", ""))
    if price < 0 or price != price:
        raise ValueError(f"invalid price {value!r}")
    return price


def _parse_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("1", "true", "yes", "y", "in stock", "instock"):
        return True
    if s in ("0", "false", "no", "n", "out of stock", "outofstock"):
        return False
    raise ValueError(f"unparseable in_stock {value!r}")


def brand_from_title(title: str) -> str | None:
    """The words before the first gender word ("Puma Men Black Shoes" → "Puma", "Nike Men's
    Lunarswift Shoe" → "Nike")."""
    words = title.split()
    for i, w in enumerate(words):
        if w in _GENDER_FORMS and i > 0:
            return " ".join(words[:i])
    return None


def fill_brands_from_known(products: list[Product]) -> list[Product]:
    """Brands for titles without a gender word ("Nike Lunarswift Shoe", "FNF Blue Sari"):
    the longest leading words that other titles of the catalogue name as a brand (seen at
    least twice, so a one-off parsing accident never spreads). Without this a sixth of the
    KAGL catalogue had no brand, and "not Nike" still showed those Nike shoes."""
    counts: dict[str, dict[str, int]] = {}
    for p in products:
        if p.brand:
            spellings = counts.setdefault(p.brand.lower(), {})
            spellings[p.brand] = spellings.get(p.brand, 0) + 1
    known = {k: max(v, key=lambda b: v[b]) for k, v in counts.items() if sum(v.values()) >= 2}
    out = []
    for p in products:
        if p.brand is None:
            words = p.name.split()
            for n in range(min(_BRAND_MAX_WORDS, len(words) - 1), 0, -1):
                if (brand := known.get(" ".join(words[:n]).lower())) is not None:
                    p = p.model_copy(update={"brand": brand})
                    break
        out.append(p)
    return out


def _row_to_product(row: Mapping[str, Any], m: ColumnMapping, base_dir: Path) -> Product:
    pid = _text(row.get(m.id))
    if pid is None:
        raise ValueError("missing id")
    title = _text(row.get(m.title))
    if title is None:
        raise ValueError("missing name")
    categories = [c for c in (_text(row.get(col)) for col in m.category) if c]
    if len(m.category) == 1 and categories and ">" in categories[0]:
        categories = [c.strip() for c in categories[0].split(">") if c.strip()]
    image = _text(row.get(m.image)) if m.image else None
    brand = _text(row.get(m.brand)) if m.brand else None
    if brand is None and m.brand_from_title:
        brand = brand_from_title(title)
    used = {m.id, m.title, m.description, m.brand, m.colour, m.gender, m.price, m.currency, m.in_stock, m.image, *m.category}
    attributes: dict[str, str | int | float | bool] = {}
    for k, v in row.items():
        if k in used or k == "__error__" or v is None or v == "":
            continue
        if isinstance(v, bool | int | float | str):
            attributes[k] = v
    return Product(
        id=pid,
        name=title,
        description=_text(row.get(m.description)) if m.description else None,
        brand=brand,
        category_path=categories,
        colour=_text(row.get(m.colour)) if m.colour else None,
        gender=_text(row.get(m.gender)) if m.gender else None,
        price=parse_price(row.get(m.price)) if m.price else None,
        currency=_text(row.get(m.currency)) if m.currency else None,
        in_stock=_parse_bool(row.get(m.in_stock)) if m.in_stock else None,
        image=(base_dir / image) if image else None,
        attributes=attributes,
    )


def load_catalogue(path: Path | str, mapping: str | None = None, limit: int | None = None) -> Catalogue:
    """Read a catalogue file; bad rows become issues, never exceptions.

    Raises `CatalogueError` only when the file as a whole cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogueError(f"catalogue file not found: {path}")
    try:
        m = get_mapping(mapping) if mapping else detect_mapping(_columns(path))
        cat = Catalogue(source=path, mapping=m.name)
        seen: set[str] = set()
        for row_no, row in enumerate(_read_rows(path), 1):
            if limit is not None and len(cat.products) >= limit:
                break
            if "__error__" in row:
                cat.issues.append(RowIssue(row_no, None, str(row["__error__"])))
                continue
            try:
                product = _row_to_product(row, m, path.parent)
            except ValueError as e:
                cat.issues.append(RowIssue(row_no, _text(row.get(m.id)), str(e)))
                continue
            if product.id in seen:
                cat.issues.append(RowIssue(row_no, product.id, "duplicate id (first row kept)"))
                continue
            seen.add(product.id)
            cat.products.append(product)
        if m.brand_from_title:
            cat.products = fill_brands_from_known(cat.products)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CatalogueError(f"{path}: cannot read catalogue: {e}") from e
    except Exception as e:  # pyarrow raises its own types for a broken Parquet file
        if type(e).__module__.startswith("pyarrow"):
            raise CatalogueError(f"{path}: cannot read Parquet catalogue: {e}") from e
        raise
    return cat
