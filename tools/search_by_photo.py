"""`search_by_photo`: find products that look like a photo, optionally changed by words."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from assistant.encoders.images import load_image
from assistant.retrieval.search import SearchRequest
from tools.context import ToolContext
from tools.search_products import SearchFilters
from tools.types import SearchResult, search_result


class SearchByPhotoArgs(BaseModel):
    image_path: str = Field(description="Local path of the shopper's photo")
    text: str | None = Field(None, description='Optional change to apply, e.g. "but in black"')
    filters: SearchFilters = Field(default_factory=SearchFilters)
    k: int = Field(10, ge=1, le=50)


def search_by_photo(ctx: ToolContext, args: SearchByPhotoArgs) -> SearchResult:
    image = load_image(Path(args.image_path))
    resp = ctx.retriever.search(SearchRequest(text=args.text, image=image, filters=args.filters.to_filters(), k=args.k))
    return search_result(resp)
