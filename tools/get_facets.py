"""`get_facets`: value counts of a field among the products matching a query, for clarifying questions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from assistant.retrieval.search import merge_filters
from assistant.retrieval.understanding import parse_query
from tools.context import ToolContext
from tools.search_products import SearchFilters

FACET_FIELDS = {"brand": "brand_key", "colour": "colour_key", "category": "article_type_key", "gender": "gender_key", "usage": "usage_key"}


class GetFacetsArgs(BaseModel):
    field: Literal["brand", "colour", "category", "gender", "usage"] = Field(description="Which attribute to count")
    query: str | None = Field(None, description="The shopper's request; its words become filters")
    filters: SearchFilters = Field(default_factory=SearchFilters)
    limit: int = Field(8, ge=1, le=50)


class FacetValue(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    field: str
    values: list[FacetValue]
    total: int


def get_facets(ctx: ToolContext, args: GetFacetsArgs) -> Facets:
    r = ctx.retriever
    filters = args.filters.to_filters()
    if args.query:
        filters = merge_filters(parse_query(args.query, r.vocabulary).filters, filters)
    flt = None if filters.is_empty() else filters
    hits = r.index.facet(r.collection_name, FACET_FIELDS[args.field], flt, args.limit)
    return Facets(field=args.field, values=[FacetValue(value=str(h.value), count=h.count) for h in hits], total=r.index.count(r.collection_name, flt))
