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

Several products laid apart on one backdrop (a shirt beside its shoes) are separate patches
of the foreground: `products_in` frames each on its own.

Owns the isolation of the products in one image (a clip's frame or a shopper's photo); not
which frames of a clip (`video.keyframes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

BORDER = 0.05  # share of each side read as backdrop
MARGIN = 0.08  # added around the product's box, of its larger side
MIN_AREA, MAX_AREA = 0.02, 0.85  # product's share of the frame outside which framing is not trusted
MIN_REGION = 0.015  # a patch's share of the frame for it to be a product of its own among several
MIN_REGION_OF_LARGEST = 0.25  # ...and of the largest patch
JOIN = 0.04  # patches nearer each other than twice this share of the frame's side are one product
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


def _foreground(image: Image.Image) -> tuple[Image.Image, int, bool] | None:
    """The mask of what stands out from the frame's one backdrop (255: product), the border's
    width, and whether the backdrop is the studio's white; None when the border is no one
    backdrop (a busy scene)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    b = max(2, int(min(h, w) * BORDER))
    border = np.concatenate([rgb[:b].reshape(-1, 3), rgb[-b:].reshape(-1, 3), rgb[:, :b].reshape(-1, 3), rgb[:, -b:].reshape(-1, 3)])
    backdrop = np.median(border, axis=0)
    border_dist = np.linalg.norm(border - backdrop, axis=1)
    # a backdrop is one colour give or take texture and light: most of the border is near it
    threshold = max(28.0, float(np.percentile(border_dist, 90)) * 1.6)
    if float((border_dist <= threshold).mean()) < MIN_BORDER_AGREEMENT:
        return None
    studio = bool(backdrop.min() >= STUDIO_WHITE)
    dist = np.linalg.norm(rgb - backdrop, axis=-1)
    mask = Image.fromarray(((dist > threshold) * 255).astype(np.uint8))
    return mask.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(5)), b, studio  # specks out, the product whole


def _framed(image: Image.Image, mask: Image.Image, b: int, studio: bool) -> Framed:
    """The pixels under `mask` cropped to their box, squared, on white."""
    m = np.asarray(mask) > 127
    h, w = m.shape
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
    return Framed(framed.resize((OUT, OUT), Image.Resampling.BICUBIC), True, bool(whole), studio)


def frame_product(image: Image.Image) -> Framed:
    """`isolate`, saying whether it could and whether the product is whole in the frame."""
    return _frame_product(image, _foreground(image))


def framings(image: Image.Image, min_share: float = MIN_REGION) -> tuple[Framed, list[Framed]]:
    """`frame_product` and `products_in` of one image from one reading of its backdrop (a
    clip's frames need both: the reading is most of either's time)."""
    found = _foreground(image)
    return _frame_product(image, found), _products_in(image, found, min_share)


def _frame_product(image: Image.Image, found: tuple[Image.Image, int, bool] | None) -> Framed:
    if found is None:
        return Framed(image, False, False)
    mask, b, studio = found
    area = float((np.asarray(mask) > 127).mean())
    if not MIN_AREA <= area <= MAX_AREA:
        # no product stands out, but the backdrop still tells a studio shot (a product filling
        # the frame on white) from a shopper's (`retrieval.photo` reads the two with two towers)
        return Framed(image, False, False, studio)
    return _framed(image, mask, b, studio)


def products_in(image: Image.Image, min_share: float = MIN_REGION) -> list[Framed]:
    """Each product standing apart on the frame's backdrop (products laid side by side, a
    shirt beside its shoes), framed on its own, left to right: the separate patches of the
    foreground that cover at least `min_share` of the frame and a quarter of the largest each.
    One patch, or none, or a busy scene: [] (`frame_product` frames a lone product). Two
    patches may still be one product (a pair of shoes): telling that is the caller's
    (`video.items` compares them)."""
    return _products_in(image, _foreground(image), min_share)


def _products_in(image: Image.Image, found: tuple[Image.Image, int, bool] | None, min_share: float) -> list[Framed]:
    from scipy import ndimage

    if found is None:
        return []
    mask, b, studio = found
    m = np.asarray(mask) > 127
    # A product whose colours come near the backdrop's (stripes, a face above a shirt) falls
    # apart into patches a few pixels from each other; products laid apart have backdrop
    # between them. So patches closer than twice `JOIN` of the frame are one product.
    reach = max(1, round(JOIN * min(m.shape)))
    labels, n = ndimage.label(ndimage.binary_dilation(m, iterations=reach))
    labels = np.where(m, labels, 0)
    if n < 2:
        return []
    sizes = ndimage.sum_labels(m, labels, index=np.arange(1, n + 1)) / m.size
    # a speck beside a product is no product: each patch is also a fair share of the largest
    kept = [i + 1 for i in range(n) if sizes[i] >= min_share and sizes[i] >= MIN_REGION_OF_LARGEST * sizes.max()]
    if len(kept) < 2:
        return []
    centre_x = {i: float(np.nonzero(labels == i)[1].mean()) for i in kept}
    return [_framed(image, Image.fromarray(((labels == i) * 255).astype(np.uint8)), b, studio) for i in sorted(kept, key=centre_x.get)]
