"""Shopper-like scenes made from catalogue photos, for training the catalogue CLIP.

The catalogue photographs every product the same way: centred, upright, on studio white.
A CLIP trained on those photos alone learns the studio as much as the products: a
shopper's photo of the same product on a table, at a slant or compressed by a messenger
finds itself less often than with the ImageNet trunk it was trained from (dev photos on a
backdrop 0.44 against 0.52, rotated 0.35 against 0.47: `bench_clip_photos.py`). A scene
puts the product, its white keyed out, where a phone would see it:
- on a backdrop, or on white as the search's framing leaves a photo it has cut out
  (`encoders.framing`: a slanted product stays slanted there);
- turned up to `MAX_ANGLE` degrees, smaller in the frame and off-centre;
- a little lighter or darker, softer, and JPEG-compressed.

The backdrop is a close-up of another catalogue photo, blurred and dimmed: a fabric, a
leather, a wooden sole, at a scale no product is shown at. It is deliberately not the
benchmarks' tinted, noise-textured walls (`benchmarks/photo_variants.py`,
`benchmarks/video_clips.py`), so that what the benchmarks measure on those walls is
robustness learned, not their generator learned. Colours are not shifted: a scene's
product keeps its colour, which its caption names.

Owns making one scene from photos; which views are cached and how they are drawn is
`clip.train`'s.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

MAX_ANGLE = 40.0  # degrees either way
ROTATED_SHARE = 0.6  # share of scenes turned at all
ON_WHITE_SHARE = 0.35  # share of scenes on white (a photo the search has framed) rather than a backdrop
FRAMES = ((320, 240), (240, 320), (288, 288))  # a phone's landscape, portrait and square shots
STUDIO_WHITE = 235  # a pixel whose every channel is at least this is the studio's backdrop


def _backdrop(source: Image.Image, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A close-up of `source` (another product's photo) filling `size`: blurred and dimmed, so
    that it reads as a surface, not as a second product."""
    w, h = source.size
    side = max(8, int(min(w, h) * rng.uniform(0.15, 0.35)))
    # the close-up is taken near the photo's centre, where the product is, not its white margin
    cx, cy = w // 2 + rng.randint(-w // 6, w // 6), h // 2 + rng.randint(-h // 6, h // 6)
    box = (max(0, cx - side // 2), max(0, cy - side // 2), min(w, cx + side // 2), min(h, cy + side // 2))
    patch = source.convert("RGB").crop(box).resize(size, Image.Resampling.BICUBIC)
    patch = patch.filter(ImageFilter.GaussianBlur(rng.uniform(2.0, 6.0)))
    return ImageEnhance.Brightness(patch).enhance(rng.uniform(0.55, 0.95))


def scene(photo: Image.Image, backdrop_source: Image.Image, rng: random.Random) -> Image.Image:
    """`photo` (a studio photo) as a shopper's photo: on a close-up of `backdrop_source` or on
    white, perhaps turned, smaller and off-centre, with a phone's light, blur and JPEG."""
    size = rng.choice(FRAMES)
    on_white = rng.random() < ON_WHITE_SHARE
    canvas = Image.new("RGB", size, (255, 255, 255)) if on_white else _backdrop(backdrop_source, size, rng)
    side = int(min(size) * rng.uniform(0.5, 0.95))
    product = photo.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    arr = np.asarray(product)
    # the studio white keyed out, feathered, so the product stands on the backdrop
    mask = Image.fromarray(((arr.min(axis=-1) < STUDIO_WHITE) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    if rng.random() < ROTATED_SHARE:
        angle = rng.uniform(-MAX_ANGLE, MAX_ANGLE)
        product = product.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    # off-centre, by at most a fifth of the room left around it (the product stays in frame)
    x = (size[0] - product.width) // 2 + int(rng.uniform(-0.2, 0.2) * max(size[0] - side, 0))
    y = (size[1] - product.height) // 2 + int(rng.uniform(-0.2, 0.2) * max(size[1] - side, 0))
    canvas.paste(product, (x, y), mask)
    canvas = ImageEnhance.Brightness(canvas).enhance(rng.uniform(0.8, 1.15))
    canvas = ImageEnhance.Contrast(canvas).enhance(rng.uniform(0.8, 1.15))
    if rng.random() < 0.5:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=rng.randint(30, 85))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
