"""`search_by_video`: the products a short clip shows, one group of cards per product seen.

The clip travels as data (a data URL or base64), or as `attachment:NAME`, a clip the shopper
attached to the turn, never as a file path: the tool is served over HTTP and MCP too, where a
path would let a caller probe the server's disk. Over HTTP the JSON
body limit bounds the clip (base64 is a third larger than the file); the chat socket takes a
clip as a binary frame up to the video limit.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.errors import VideoError
from assistant.video.decode import DecodedClip, decode_video_data
from assistant.video.items import search_video
from tools.context import ToolContext
from tools.search_products import SearchFilters
from tools.types import SearchResult, search_result


class SearchByVideoArgs(BaseModel):
    video: str = Field(
        description="The clip (MP4, MOV or WebM; up to 30 s): a data URL (data:video/mp4;base64,...), plain base64 of the file, "
        "or attachment:NAME for a clip the shopper attached to this turn"
    )
    text: str | None = Field(None, description='Optional words applied to every product seen, e.g. "in black", "for women"')
    filters: SearchFilters = Field(default_factory=SearchFilters)
    k: int = Field(5, ge=1, le=20, description="Cards per product seen")


class SeenSpan(BaseModel):
    start_s: float
    end_s: float


class VideoCardGroup(SearchResult):
    item: int  # 1, 2, ... in the order the products first appear
    seen: list[SeenSpan]  # when this product is on screen
    frame_s: float  # its sharpest moment (the search reads several frames of each shot)


class VideoSearchResult(BaseModel):
    groups: list[VideoCardGroup]
    seconds: float
    shots: int


def resolve_video(ctx: ToolContext, ref: str) -> bytes | DecodedClip:
    """The clip a `video` argument names; `VideoError` says why it cannot be had."""
    if ref.startswith("attachment:"):
        name = ref.removeprefix("attachment:")
        if name not in ctx.videos:
            raise VideoError(f"no clip named {name!r} is attached to this turn")
        return ctx.videos[name]
    return decode_video_data(ref)


def search_by_video(ctx: ToolContext, args: SearchByVideoArgs) -> VideoSearchResult:
    found = search_video(ctx.retriever, resolve_video(ctx, args.video), text=args.text, filters=args.filters.to_filters(), k=args.k)
    groups = [
        VideoCardGroup(
            item=n,
            seen=[SeenSpan(start_s=round(a, 2), end_s=round(b, 2)) for a, b in g.item.spans],
            frame_s=round(g.item.frame.t, 2),
            **search_result(g.response).model_dump(),
        )
        for n, g in enumerate(found.groups, 1)
    ]
    return VideoSearchResult(groups=groups, seconds=round(found.seconds, 2), shots=found.shots)
