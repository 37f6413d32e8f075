"""Shopper's photos made from real catalogue photos: the product as a phone would take it,
not as the studio did.

Four kinds, one per photo in turn (deterministic for the product id and a seed):
- `backdrop`: on a tinted, textured wall or table, off-centre, smaller in the frame;
- `rotated`: the same, turned 10-30 degrees either way (a photo taken at a slant);
- `cropped`: the studio photo cut to 60-80% of itself (part of the product out of frame);
- `screen`: a photo of a screen showing it: a dark bezel, a keystone slant, moire lines,
  a blue cast, blur, and heavy JPEG compression.

Used by `bench_photo.py`; the studio photo itself is the fifth condition there.
"""

from __future__ import annotations

import hashlib
import io
import random

import numpy as np
from PIL import Image, ImageFilter

KINDS = ("backdrop", "rotated", "cropped", "screen")
SIZE = (480, 360)  # a phone photo, scaled down as a messenger sends it


def _rng(product_id: str, seed: int) -> random.Random:
    return random.Random(int(hashlib.sha1(f"{seed}:{product_id}".encode()).hexdigest()[:12], 16))


def _backdrop(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    base = np.array([rng.randint(110, 235) for _ in range(3)], np.float32)
    w, h = size
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(3, 12), (h // 6 + 1, w // 6 + 1, 1))
    texture = np.kron(noise, np.ones((6, 6, 1)))[:h, :w]
    gradient = np.linspace(-20, 20, h)[:, None, None]
    return Image.fromarray(np.clip(base + texture + gradient, 0, 255).astype(np.uint8))


def _on_backdrop(photo: Image.Image, rng: random.Random, angle: float = 0.0) -> Image.Image:
    canvas = _backdrop(rng, SIZE)
    side = int(SIZE[1] * rng.uniform(0.6, 0.9))
    p = photo.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    arr = np.asarray(p, np.float32)
    # the studio white keyed out, feathered: the product stands on the wall
    mask = Image.fromarray(((arr.min(axis=-1) < 235) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    if angle:
        p = p.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    x = (SIZE[0] - p.width) // 2 + rng.randint(-SIZE[0] // 8, SIZE[0] // 8)
    y = (SIZE[1] - p.height) // 2 + rng.randint(-SIZE[1] // 10, SIZE[1] // 10)
    canvas.paste(p, (x, y), mask)
    return canvas


def _cropped(photo: Image.Image, rng: random.Random) -> Image.Image:
    w, h = photo.size
    s = rng.uniform(0.6, 0.8)
    cw, ch = int(w * s), int(h * s)
    left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return photo.convert("RGB").crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BICUBIC)


def _screen(photo: Image.Image, rng: random.Random) -> Image.Image:
    w, h = SIZE
    screen = Image.new("RGB", SIZE, (18, 18, 22))  # the bezel and the room around it
    side = int(h * 0.8)
    shown = photo.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    screen.paste(shown, ((w - side) // 2, (h - side) // 2))
    # keystone: the phone held below or beside the screen
    d = rng.uniform(0.03, 0.08)
    quad = (w * d, 0, 0, h, w, h, w * (1 - d), 0) if rng.random() < 0.5 else (0, h * d, 0, h * (1 - d), w, h, w, 0)
    screen = screen.transform(SIZE, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR)
    arr = np.asarray(screen, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    period, tilt = rng.uniform(3.0, 6.0), rng.uniform(-0.3, 0.3)
    moire = 1.0 + 0.08 * np.sin(2 * np.pi * (yy + tilt * xx) / period)
    cast = np.array([0.92, 0.97, 1.08], np.float32) * rng.uniform(0.85, 1.0)
    arr = np.clip(arr * moire[..., None] * cast + 10, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr).filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(25, 45))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def variant(photo: Image.Image, product_id: str, kind: str, seed: int = 0) -> Image.Image:
    """The shopper's photo of kind `kind` made from the catalogue photo `photo`."""
    rng = _rng(product_id, seed)
    if kind == "backdrop":
        return _on_backdrop(photo, rng)
    if kind == "rotated":
        return _on_backdrop(photo, rng, angle=rng.choice((-1, 1)) * rng.uniform(10, 30))
    if kind == "cropped":
        return _cropped(photo, rng)
    if kind == "screen":
        return _screen(photo, rng)
    raise ValueError(f"unknown photo kind {kind!r}; one of {KINDS}")
