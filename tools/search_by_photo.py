"""`search_by_photo`: find products that look like a photo, optionally changed by words.

The photo travels as data (a data URL or base64), or as `attachment:NAME`, a photo the
shopper attached to the turn (held in the tool context), never as a file path: the tool is
also served over HTTP and MCP, where a path would let a caller probe the server's disk.
"""

from __future__ import annotations

from typing import Literal

from PIL import Image
from pydantic import BaseModel, Field

from assistant.encoders.images import decode_image_data, load_image
from assistant.errors import ImageError
from assistant.retrieval.search import SearchRequest
from tools.context import ToolContext
from tools.search_products import SearchFilters
from tools.types import SearchResult, search_result


class SearchByPhotoArgs(BaseModel):
    image: str = Field(
        description="The photo: a data URL (data:image/jpeg;base64,...), plain base64 of the image file, "
        "or attachment:NAME for a photo the shopper attached to this turn"
    )
    text: str | None = Field(None, description='Optional change to apply, e.g. "but in black"')
    filters: SearchFilters = Field(default_factory=SearchFilters)
    k: int = Field(10, ge=1, le=50)
    fusion: Literal["clip", "early", "late", "hybrid", "attention"] = Field(
        "hybrid",
        description="Retrieval fusion mode. hybrid: the best for what is sent (a photo with words is read "
        "together by the attention model where it is loaded); attention needs both a photo and words",
    )


def resolve_image(ctx: ToolContext, ref: str) -> Image.Image:
    """The image an `image` argument names; `ImageError` says why it cannot be had."""
    if ref.startswith("attachment:"):
        name = ref.removeprefix("attachment:")
        if name not in ctx.attachments:
            raise ImageError(f"no photo named {name!r} is attached to this turn")
        return ctx.attachments[name]
    return load_image(decode_image_data(ref))


def search_by_photo(ctx: ToolContext, args: SearchByPhotoArgs) -> SearchResult:
    image = resolve_image(ctx, args.image)
    req = SearchRequest(text=args.text, image=image, filters=args.filters.to_filters(), fusion=args.fusion, k=args.k)
    resp = ctx.retriever.search(req)
    return search_result(resp)
