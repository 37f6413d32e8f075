"""Typed data the tools share: the product card every tool returns products as."""

from __future__ import annotations

from pydantic import BaseModel

from assistant.catalogue.schema import Product
from assistant.retrieval.search import SearchResponse


class ProductCard(BaseModel):
    """A product as a shopper (or a model) sees it: catalogue facts only, never guesses."""

    id: str
    name: str
    brand: str | None = None
    category: str | None = None
    category_path: list[str] = []  # broad → narrow
    colour: str | None = None
    gender: str | None = None
    price: float | None = None
    currency: str | None = None
    in_stock: bool | None = None
    image: str | None = None
    attributes: dict[str, str | int | float | bool] = {}


class RankedProduct(ProductCard):
    rank: int
    score: float
    why: str  # which modalities found it, at what rank and score


class SearchResult(BaseModel):
    products: list[RankedProduct]
    filters_applied: list[str]
    filters_relaxed: list[str]
    total_matching: int | None = None
    weak_match: bool = False  # nothing in the catalogue resembles the words: likely out of scope


def card_fields(p: Product) -> dict[str, object]:
    """The card's fields of a catalogue product."""
    return {
        "id": p.id,
        "name": p.name,
        "brand": p.brand,
        "category": p.category,
        "category_path": list(p.category_path),
        "colour": p.colour,
        "gender": p.gender,
        "price": p.price,
        "currency": p.currency,
        "in_stock": p.in_stock,
        "image": str(p.image) if p.image else None,
        "attributes": dict(p.attributes),
    }


def search_result(resp: SearchResponse) -> SearchResult:
    return SearchResult(
        products=[RankedProduct(rank=h.rank, score=h.score, why=h.explain(), **card_fields(h.product)) for h in resp.hits],  # type: ignore[arg-type]
        filters_applied=resp.filters_applied,
        filters_relaxed=resp.filters_relaxed,
        total_matching=resp.total_matching,
        weak_match=resp.weak_match(),
    )
