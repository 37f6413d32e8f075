"""A shopper's photo as one query vector: the views of it that are read, and their mean.

The catalogue CLIP learned products from studio shots: the product centred, upright, on
white. A shopper's photo is often none of these (a wall behind it, a slant, a photo of a
screen), and one reading of it carries those accidents into the vector. Reading it in more
than one way and averaging keeps what the views share, the product:
- `mirror`: the photo flipped left to right (a garment is the same garment mirrored; the
  studio's left-right habits are not the product's);
- `framed`: the product cropped and set on white (`encoders.framing`), where it stands out
  from one backdrop that is not already white; nothing is added where it does not (a studio
  shot cropped tighter than the catalogue crops its own reads worse, not better).
The photo as sent is always read. Which views pay is measured by `benchmarks/bench_photo.py`.

Owns the views of one query photo; not how the vector is searched (`retrieval.search`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageOps

from assistant.encoders.base import ImageTextEncoder, l2_normalise
from assistant.encoders.framing import Framed, frame_product

PhotoView = Literal["mirror", "framed"]
PHOTO_VIEWS: tuple[PhotoView, ...] = ("mirror", "framed")


def views(image: Image.Image, wanted: Sequence[PhotoView], framed: Framed | None = None) -> list[Image.Image]:
    """The images read for `image`: itself first, then each wanted view that applies (`framed`:
    `image` already framed by `frame_product`, where the caller has it)."""
    unknown = set(wanted) - set(PHOTO_VIEWS)
    if unknown:
        raise ValueError(f"unknown photo view(s) {sorted(unknown)}; known: {list(PHOTO_VIEWS)}")
    out = [image]
    if "framed" not in wanted:
        framed = None
    elif framed is None:
        framed = frame_product(image)
    if framed is not None and framed.isolated and not framed.studio:
        out.append(framed.image)
    if "mirror" in wanted:
        out += [ImageOps.mirror(im) for im in list(out)]
    return out


def photo_vector(clip: ImageTextEncoder, image: Image.Image, wanted: Sequence[PhotoView], framed: Framed | None = None) -> np.ndarray:
    """The unit mean of the CLIP image vectors of `image`'s views (one encoder batch)."""
    return l2_normalise(clip.encode_image(views(image, wanted, framed)).astype(np.float64).sum(axis=0))
