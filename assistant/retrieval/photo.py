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
A photo that is not a studio shot (its backdrop is not the studio's white, or no one backdrop)
is read by the photo tower where one is loaded (`clip.photo_tower`: trained on such scenes,
its vectors in the catalogue CLIP's space); a studio shot by the catalogue CLIP, as the
catalogue itself was read.

Owns the views of one query photo; not how the vector is searched (`retrieval.search`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageOps

from assistant.encoders.base import ImageEncoder, l2_normalise
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


def reader_of(clip: ImageEncoder, tower: ImageEncoder | None, framed: Framed) -> ImageEncoder:
    """The tower that reads a photo framed as `framed`: `tower` for a shopper's photo where
    there is one, else `clip`."""
    return tower if tower is not None and not framed.studio else clip


def encode_read(clip: ImageEncoder, tower: ImageEncoder | None, images: Sequence[Image.Image], studio: Sequence[bool]) -> np.ndarray:
    """`images` encoded in order, each by the tower `reader_of` picks for it (`studio`: whether
    each is a studio shot); one batch a tower."""
    if tower is None or all(studio):
        return clip.encode_image(images)
    out = np.zeros((len(images), clip.dim), np.float32)
    for encoder, want in ((clip, True), (tower, False)):
        rows = [i for i, s in enumerate(studio) if s == want]
        if rows:
            out[rows] = encoder.encode_image([images[i] for i in rows])
    return out


def photo_vector(
    clip: ImageEncoder,
    image: Image.Image,
    wanted: Sequence[PhotoView],
    framed: Framed | None = None,
    tower: ImageEncoder | None = None,
) -> np.ndarray:
    """The unit mean of the image vectors of `image`'s views (one encoder batch), read by
    `clip`, or by `tower` where the photo is not a studio shot."""
    if tower is not None and framed is None:
        framed = frame_product(image)
    encoder = reader_of(clip, tower, framed) if framed is not None else clip
    return l2_normalise(encoder.encode_image(views(image, wanted, framed)).astype(np.float64).sum(axis=0))
