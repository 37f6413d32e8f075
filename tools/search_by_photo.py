"""`search_by_photo`: find products that look like a photo, optionally changed by words.

The photo travels as data (a data URL or base64), or as `attachment:NAME`, a photo the
shopper attached to the turn (held in the tool context), never as a file path: the tool is
also served over HTTP and MCP, where a path would let a caller probe the server's disk.
"""

from __future__ import annotations

import base64
import binascii

from PIL import Image
from pydantic import BaseModel, Field

from assistant.encoders.images import DEFAULT_LIMITS, load_image
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


def resolve_image(ctx: ToolContext, ref: str) -> Image.Image:
    """The image an `image` argument names; `ImageError` says why it cannot be had."""
    if ref.startswith("attachment:"):
        name = ref.removeprefix("attachment:")
        if name not in ctx.attachments:
            raise ImageError(f"no photo named {name!r} is attached to this turn")
        return ctx.attachments[name]
    data = ref.partition(",")[2] if ref.startswith("data:") else ref
    if len(data) > DEFAULT_LIMITS.max_bytes * 4 // 3 + 4:  # refuse before decoding megabytes of base64
        raise ImageError(f"image is over the {DEFAULT_LIMITS.max_bytes / 1e6:.0f} MB limit")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("image is neither a data URL nor valid base64") from None
    return load_image(raw)


def search_by_photo(ctx: ToolContext, args: SearchByPhotoArgs) -> SearchResult:
    image = resolve_image(ctx, args.image)
    resp = ctx.retriever.search(SearchRequest(text=args.text, image=image, filters=args.filters.to_filters(), k=args.k))
    return search_result(resp)
