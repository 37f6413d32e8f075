"""The `search_products` tool: text and/or photo search with filters, typed in and out.

A thin, typed face over `assistant.retrieval.search.Retriever` for callers that speak JSON
(the agent, the tool-call API). Images arrive as local file paths here; the server accepts
uploads and hands them over as paths or decoded images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.encoders.images import load_image
from assistant.index.base import Filters
from assistant.retrieval.search import Retriever, SearchRequest


class SearchFilters(BaseModel):
    colour: list[str] = Field(default_factory=list, description="Colours, any of")
    gender: list[str] = Field(default_factory=list, description="men, women, boys, girls, unisex")
    category: list[str] = Field(default_factory=list, description="Any level of the category path")
    brand: list[str] = Field(default_factory=list)
    exclude_brand: list[str] = Field(default_factory=list)
    price_min: float | None = None
    price_max: float | None = None


class SearchProductsArgs(BaseModel):
    query: str | None = Field(None, description="What the shopper asked for, in their words")
    image_path: str | None = Field(None, description="Local path of a photo to search with")
    filters: SearchFilters = Field(default_factory=SearchFilters)
    fusion: Literal["bm25", "text", "clip", "early", "late", "hybrid"] = "hybrid"
    k: int = Field(10, ge=1, le=100)


class ProductHit(BaseModel):
    rank: int
    id: str
    name: str
    score: float
    brand: str | None
    category: str | None
    colour: str | None
    gender: str | None
    price: float | None
    why: str


class SearchProductsResult(BaseModel):
    hits: list[ProductHit]
    filters_applied: list[str]
    filters_relaxed: list[str]


def search_products(retriever: Retriever, args: SearchProductsArgs) -> SearchProductsResult:
    """Run the search; project errors propagate typed (the caller turns them into tool errors)."""
    image = load_image(Path(args.image_path)) if args.image_path else None
    resp = retriever.search(
        SearchRequest(text=args.query, image=image, filters=Filters(**args.filters.model_dump()), fusion=args.fusion, k=args.k)
    )
    return SearchProductsResult(
        hits=[
            ProductHit(
                rank=h.rank,
                id=h.product_id,
                name=h.name,
                score=h.score,
                brand=h.product.brand,
                category=h.product.category,
                colour=h.product.colour,
                gender=h.product.gender,
                price=h.product.price,
                why=h.explain(),
            )
            for h in resp.hits
        ],
        filters_applied=resp.filters_applied,
        filters_relaxed=resp.filters_relaxed,
    )
