"""`similar_products`: products like a given one (its photo and caption, fused early)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.encoders.images import load_image
from assistant.errors import AssistantError, QueryError
from assistant.index.base import Filters
from assistant.retrieval.search import SearchRequest
from tools.context import ToolContext
from tools.types import SearchResult, search_result


class SimilarProductsArgs(BaseModel):
    product_id: str = Field(description="Id of the product to find look-alikes of")
    k: int = Field(10, ge=1, le=50)


def similar_products(ctx: ToolContext, args: SimilarProductsArgs) -> SearchResult:
    found = ctx.retriever.products([args.product_id])
    if args.product_id not in found:
        raise QueryError(f"no product with id {args.product_id!r}")
    p = found[args.product_id]
    image = None
    if p.image is not None:
        try:
            image = load_image(p.image)
        except AssistantError:
            image = None  # its photo went bad since ingest: its caption still describes it
    resp = ctx.retriever.search(
        SearchRequest(
            text=p.clip_caption() if image is None else p.category or p.name,
            image=image,
            # Look-alikes of the same kind: a top's neighbours by photo can be dresses. The
            # filter is relaxed like any other when nothing else of the kind exists.
            filters=Filters(exclude_product_ids=[p.id], article_type=[p.category] if p.category else []),
            understand=False,
            k=args.k,
        )
    )
    return search_result(resp)
