"""`search_products`: find products by a text query and filters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from assistant.index.base import Filters
from assistant.retrieval.search import SearchRequest
from tools.context import ToolContext
from tools.types import SearchResult, search_result


class SearchFilters(BaseModel):
    """Restrictions; each list means "any of these"."""

    colour: list[str] = Field(default_factory=list, description="Colours, e.g. black, navy blue")
    gender: list[str] = Field(default_factory=list, description="men, women, boys, girls or unisex")
    category: list[str] = Field(default_factory=list, description="Any level of the category path, e.g. shoes, watches")
    brand: list[str] = Field(default_factory=list, description="Brands to include")
    exclude_brand: list[str] = Field(default_factory=list, description="Brands to leave out")
    price_min: float | None = Field(None, description="Lowest price")
    price_max: float | None = Field(None, description="Highest price")
    exclude_product_ids: list[str] = Field(default_factory=list, description="Products not to show again")

    def to_filters(self) -> Filters:
        return Filters(**self.model_dump())


class SearchProductsArgs(BaseModel):
    query: str = Field(description="What the shopper asked for, in their words")
    filters: SearchFilters = Field(default_factory=SearchFilters, description="Extra restrictions beyond the words")
    fusion: Literal["bm25", "text", "clip", "early", "late", "hybrid"] = Field("hybrid", description="Retrieval fusion mode")
    k: int = Field(10, ge=1, le=50, description="How many products")
    understand: bool = Field(True, description="Turn words of the query into filters; false when `filters` already hold every constraint")


def search_products(ctx: ToolContext, args: SearchProductsArgs) -> SearchResult:
    resp = ctx.retriever.search(
        SearchRequest(text=args.query, filters=args.filters.to_filters(), fusion=args.fusion, k=args.k, understand=args.understand)
    )
    return search_result(resp)
