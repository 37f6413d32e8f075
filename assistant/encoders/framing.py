"""The product in a frame, framed as the catalogue photographs it: cropped to it, on white.

The catalogue CLIP learned products from studio photos (the product centred, a white
backdrop). A frame of a clip has the product somewhere in it, on a wall or a table, which
pulls its vector toward the backdrop: searched as is, a product filmed on a tinted wall was
in its own top 5 about half the time (dev clips) against always for its studio photo. Here
the backdrop's colour is read from the frame's border (what surrounds the product), pixels
far from it are the product, and the frame is cropped to them, squared, and the backdrop
replaced by white, softly at the edges.

Where no such product stands out (a busy scene whose border is not one backdrop, a product
filling the frame), the frame is returned as it was: framing only ever narrows a clear case.

Owns the isolation of one product in one image (a clip's frame or a shopper's photo); not which
frames of a clip (`video.keyframes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

BORDER = 0.05  # share of each side read as backdrop
MARGIN = 0.08  # added around the product's box, of its larger side
MIN_AREA, MAX_AREA = 0.02, 0.85  # product's share of the frame outside which framing is not trusted
MIN_BORDER_AGREEMENT = 0.7  # share of border pixels near the backdrop colour for it to be one backdrop
OUT = 224  # the catalogue photos' size
STUDIO_WHITE = 235  # a backdrop whose every channel is at least this is the studio's white


@dataclass(frozen=True)
class Framed:
    image: Image.Image  # the product on white, or the frame as it was
    isolated: bool  # a product stood out from one backdrop
    whole: bool  # ...and its box does not touch the frame's edge (not cut off by the framing)
    studio: bool = False  # the backdrop is already near white: the image is framed as the studio frames


def isolate(image: Image.Image) -> Image.Image:
    """The product cropped and on white, or `image` unchanged when no product stands out."""
    return frame_product(image).image


def frame_product(image: Image.Image) -> Framed:
    """`isolate`, saying whether it could and whether the product is whole in the frame."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    b = max(2, int(min(h, w) * BORDER))
    border = np.concatenate([rgb[:b].reshape(-1, 3), rgb[-b:].reshape(-1, 3), rgb[:, :b].reshape(-1, 3), rgb[:, -b:].reshape(-1, 3)])
    backdrop = np.median(border, axis=0)
    border_dist = np.linalg.norm(border - backdrop, axis=1)
    # a backdrop is one colour give or take texture and light: most of the border is near it
    threshold = max(28.0, float(np.percentile(border_dist, 90)) * 1.6)
    if float((border_dist <= threshold).mean()) < MIN_BORDER_AGREEMENT:
        return Framed(image, False, False)
    studio = bool(backdrop.min() >= STUDIO_WHITE)
    dist = np.linalg.norm(rgb - backdrop, axis=-1)
    mask = Image.fromarray(((dist > threshold) * 255).astype(np.uint8))
    mask = mask.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(5))  # specks out, the product whole
    m = np.asarray(mask) > 127
    area = float(m.mean())
    if not MIN_AREA <= area <= MAX_AREA:
        return Framed(image, False, False)
    ys, xs = np.nonzero(m)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    edge = max(2, b // 2)
    whole = top >= edge and left >= edge and bottom <= h - edge and right <= w - edge
    side = int(max(bottom - top, right - left) * (1 + 2 * MARGIN))
    cy, cx = (top + bottom) // 2, (left + right) // 2
    box = (cx - side // 2, cy - side // 2, cx - side // 2 + side, cy - side // 2 + side)
    soft = mask.filter(ImageFilter.GaussianBlur(2)).crop(box)
    white = Image.new("RGB", (side, side), (255, 255, 255))
    # crop() pads outside the frame with black; the mask there is 0, so white shows
    framed = Image.composite(image.convert("RGB").crop(box), white, soft)
    return Framed(framed.resize((OUT, OUT), Image.Resampling.BICUBIC), True, whole, studio)
