"""The chat widget: its page, its two static assets, and product photos.

    GET /                       the chat page (static/index.html: one script tag)
    GET /widget.js, /widget.css the widget; `<script src=".../widget.js">` on any site builds it
    GET /v1/images/{product_id} a product's photo, looked up by id in the index

Owns serving the widget and what it needs beyond the chat protocol. Does not own the
protocol (`chat_ws`), the cart (the tool API, `tools_api`), nor who may call them from which
origin (API keys and CORS origins: `access`, `ops`; these routes are public, as `<img>` and
`<script>` tags send no keys).

A product card's `image` is the catalogue's local file path, which a browser cannot load,
so the widget asks for `/v1/images/{id}`: the id is only ever a lookup key, never joined to
a path, and only the file the catalogue names for that product is served, when it is an
image file that exists.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from assistant.server.services import Services

STATIC = Path(__file__).resolve().parent / "static"
PHOTO_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".bmp": "image/bmp"}
ASSET_CACHE = "no-cache"  # revalidate: a new release must reach embedded widgets at once
PHOTO_CACHE = "public, max-age=86400"  # seconds; a product's photo rarely changes

router = APIRouter(include_in_schema=False)


def _asset(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=media_type, headers={"cache-control": ASSET_CACHE})


@router.get("/")
async def page() -> FileResponse:
    return _asset("index.html", "text/html; charset=utf-8")


@router.get("/widget.js")
async def script() -> FileResponse:
    return _asset("widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css")
async def stylesheet() -> FileResponse:
    return _asset("widget.css", "text/css; charset=utf-8")


@router.get("/v1/images/{product_id}")
async def product_photo(request: Request, product_id: Annotated[str, PathParam(min_length=1, max_length=200)]) -> FileResponse:
    services: Services = request.app.state.services

    def find() -> Path | None:
        product = services.retriever.products([product_id]).get(product_id)
        photo = product.image if product is not None else None
        if photo is None or photo.suffix.lower() not in PHOTO_TYPES or not photo.is_file():
            return None
        return photo

    photo = await asyncio.get_running_loop().run_in_executor(services.pool, find)
    if photo is None:
        raise HTTPException(404, f"no photo for product {product_id!r}")
    return FileResponse(photo, media_type=PHOTO_TYPES[photo.suffix.lower()], headers={"cache-control": PHOTO_CACHE})
