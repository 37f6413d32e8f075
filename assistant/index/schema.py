"""The collection schema shared by both engines: named vectors and filterable payload fields.

Owns the vector names (`image`, `clip_text`, `text`, sparse `bm25`), the payload layout of a
product point and the payload indexes. Normalised filter fields end in `_key` (lowercase
strings) so that "Navy Blue", "navy blue" and "NAVY BLUE" match alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from assistant.catalogue.schema import Product

IMAGE = "image"
CLIP_TEXT = "clip_text"
TEXT = "text"
BM25 = "bm25"
# Early fusion on the product side: normalise(image + clip_text), or clip_text alone for a
# product without a photo, so one vector covers the whole catalogue in the CLIP space.
FUSED = "fused"
DENSE_VECTORS = (IMAGE, CLIP_TEXT, FUSED, TEXT)

FieldKind = Literal["keyword", "float"]

# Payload indexes: field → kind. Facets and filters work on these.
PAYLOAD_INDEXES: dict[str, FieldKind] = {
    "colour_key": "keyword",
    "gender_key": "keyword",
    "category_key": "keyword",  # every level of the category path
    "article_type_key": "keyword",  # the narrowest level
    "brand_key": "keyword",
    "season_key": "keyword",
    "usage_key": "keyword",
    "product_id": "keyword",
    "price": "float",
    "in_stock_key": "keyword",  # "true" / "false": see `base.conditions` on booleans
}

# Filter field name (as the query understanding speaks) → payload key.
FILTER_FIELDS: dict[str, str] = {
    "colour": "colour_key",
    "gender": "gender_key",
    "category": "category_key",
    "article_type": "article_type_key",
    "brand": "brand_key",
    "season": "season_key",
    "usage": "usage_key",
}


Quantization = Literal["none", "scalar", "binary"]


@dataclass(frozen=True)
class VectorStorage:
    """How a collection keeps its dense vectors: all in RAM as float32 (the default), or the
    originals on disk with a quantised copy in RAM (scalar: int8, a quarter of the memory;
    binary: one bit a dimension, a 32nd) that searches use before rescoring with the originals."""

    quantization: Quantization = "none"
    on_disk: bool = False


@dataclass(frozen=True)
class VectorDims:
    """Sizes of the dense vectors of a collection."""

    clip: int  # image and clip_text share the CLIP space
    text: int


def key(value: object) -> str:
    """Normalised keyword value for filtering."""
    return " ".join(str(value).lower().split())


def product_payload(p: Product, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The payload of a product point: the catalogue fields and the normalised filter fields."""
    payload: dict[str, Any] = {
        "product_id": p.id,
        "name": p.name,
        "description": p.description,
        "brand": p.brand,
        "category_path": p.category_path,
        "colour": p.colour,
        "gender": p.gender,
        "price": p.price,
        "currency": p.currency,
        "in_stock": p.in_stock,
        "image": str(p.image) if p.image else None,
        "attributes": p.attributes,
        "has_image": False,
        "colour_key": key(p.colour) if p.colour else None,
        "gender_key": key(p.gender) if p.gender else None,
        "category_key": [key(c) for c in p.category_path],
        "article_type_key": key(p.category) if p.category else None,
        "brand_key": key(p.brand) if p.brand else None,
        "season_key": key(p.attributes["season"]) if "season" in p.attributes else None,
        "usage_key": key(p.attributes["usage"]) if "usage" in p.attributes else None,
        "in_stock_key": None if p.in_stock is None else str(p.in_stock).lower(),
    }
    if extra:
        payload.update(extra)
    return {k: v for k, v in payload.items() if v is not None}
