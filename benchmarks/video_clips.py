"""Test clips made from real catalogue photos, as a shopper's phone might film products.

Each clip shows a few products one after another (or, `apart`, laid side by side in twos and
threes, filmed together), each for 2-4 seconds with the camera
moving (a pan across it, a zoom in or out, a fixed off-centre crop, a slow tilt), the product
on a backdrop that is not the studio's white (a tinted wall, a textured table), hard cuts
between products, sometimes a black gap or a product shown twice. Encoded with FFmpeg's
encoders through PyAV: H.264 in MP4 or MOV, VP8 or VP9 in WebM. The clip's manifest says which
product is on screen when, so a search can be scored per item.

Deterministic for a seed. Used by `bench_video.py` (dev and held-out sets) and the tests.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

FPS = 25
SIZE = (480, 360)  # width, height: a phone clip, scaled down as a messenger sends it
MOTIONS = ("pan", "zoom_in", "zoom_out", "crop", "tilt")
APART_MOTIONS = ("drift", "tilt")  # products laid apart stay in the frame
CONTAINERS = {"h264": ("mp4", "libx264"), "h264-mov": ("mov", "libx264"), "vp8": ("webm", "libvpx"), "vp9": ("webm", "libvpx-vp9")}


@dataclass(frozen=True)
class Shown:
    product_id: str
    article_type: str
    start_s: float
    end_s: float
    motion: str


@dataclass(frozen=True)
class ClipManifest:
    path: str
    codec: str
    seconds: float
    items: list[Shown]

    def to_json(self) -> dict:
        return asdict(self)


def _backdrop(rng: random.Random) -> Image.Image:
    """A tinted, slightly textured backdrop the product stands on."""
    base = np.array([rng.randint(120, 235) for _ in range(3)], np.float32)
    h, w = SIZE[1] * 2, SIZE[0] * 2
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(2, 10), (h // 8, w // 8, 1))
    texture = np.kron(noise, np.ones((8, 8, 1)))
    gradient = np.linspace(-15, 15, h)[:, None, None]
    return Image.fromarray(np.clip(base + texture + gradient, 0, 255).astype(np.uint8))


def _stage(photo: Image.Image, rng: random.Random) -> Image.Image:
    """The product photo on a backdrop, its studio white keyed out softly, off-centre a little."""
    canvas = _backdrop(rng)
    side = int(canvas.height * rng.uniform(0.7, 0.9))
    p = photo.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    arr = np.asarray(p, np.float32)
    # studio white becomes the backdrop: a mask of "not near-white", feathered
    mask = Image.fromarray(((arr.min(axis=-1) < 235) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    x = (canvas.width - side) // 2 + rng.randint(-canvas.width // 10, canvas.width // 10)
    y = (canvas.height - side) // 2 + rng.randint(-canvas.height // 12, canvas.height // 12)
    canvas.paste(p, (x, y), mask)
    return canvas


def _stage_apart(photos: list[Image.Image], rng: random.Random) -> Image.Image:
    """Two or three product photos laid apart on one backdrop, left to right, as a shopper lays
    out a shirt beside its trousers and shoes to film them together."""
    canvas = _backdrop(rng)
    side = int(canvas.height * (0.45 if len(photos) == 2 else 0.32))
    gap = (int(canvas.width * 0.8) - side * len(photos)) // max(len(photos) - 1, 1)
    x = int(canvas.width * 0.1)
    for photo in photos:
        p = photo.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
        arr = np.asarray(p, np.float32)
        mask = Image.fromarray(((arr.min(axis=-1) < 235) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
        y = (canvas.height - side) // 2 + rng.randint(-canvas.height // 12, canvas.height // 12)
        canvas.paste(p, (x, y), mask)
        x += side + gap
    return canvas


def _window(stage: Image.Image, motion: str, u: float, rng_offset: tuple[float, float]) -> Image.Image:
    """The frame at fraction u (0..1) of the shot: a window over the stage, scaled to SIZE."""
    full_w, full_h = stage.size
    aspect = SIZE[0] / SIZE[1]
    if motion == "pan":
        scale, cx, cy = 0.75, 0.35 + 0.3 * u, 0.5
    elif motion == "zoom_in":
        scale, cx, cy = 1.0 - 0.4 * u, 0.5, 0.5
    elif motion == "zoom_out":
        scale, cx, cy = 0.6 + 0.4 * u, 0.5, 0.5
    elif motion == "crop":
        scale, cx, cy = 0.7, 0.5 + rng_offset[0], 0.5 + rng_offset[1]
    elif motion == "drift":  # the whole stage, the camera drifting a little
        scale, cx, cy = 0.95, 0.48 + 0.04 * u, 0.5
    else:  # tilt: a slow rotation of the whole stage
        scale, cx, cy = 0.8, 0.5, 0.5
        stage = stage.rotate(-8 + 16 * u, resample=Image.Resampling.BILINEAR, fillcolor=stage.getpixel((2, 2)))
    h = full_h * scale
    w = min(full_w, h * aspect)
    left = min(max(cx * full_w - w / 2, 0), full_w - w)
    top = min(max(cy * full_h - h / 2, 0), full_h - h)
    return stage.crop((int(left), int(top), int(left + w), int(top + h))).resize(SIZE, Image.Resampling.BILINEAR)


def make_clip(products: list[tuple[str, str, Path]], out: Path, codec: str = "h264", seed: int = 0, apart: bool = False) -> ClipManifest:
    """A clip of `products` (id, article type, photo), one shot each (one of them may come back
    at the end), written to `out`. `apart`: the products laid apart in shots of two or three
    (four: two shots of two), filmed together."""
    import av

    rng = random.Random(seed)
    ext, encoder = CONTAINERS[codec]
    out = out.with_suffix("." + ext)
    plan: list[tuple[tuple[int, ...], float, str]]
    if apart:
        together = [tuple(range(len(products)))] if len(products) <= 3 else [(0, 1), tuple(range(2, len(products)))]
        plan = [(ids, rng.uniform(2.5, 4.0), rng.choice(APART_MOTIONS)) for ids in together]
    else:
        plan = [((i,), rng.uniform(2.0, 4.0), rng.choice(MOTIONS)) for i in range(len(products))]
        if len(products) > 1 and rng.random() < 0.3:
            plan.append(((0,), rng.uniform(1.5, 2.5), rng.choice(MOTIONS)))  # back to the first product
    shown: list[Shown] = []
    t = 0.0
    with av.open(str(out), mode="w") as container:
        stream = container.add_stream(encoder, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        if encoder.startswith("libvpx"):
            stream.options = {"deadline": "realtime", "cpu-used": "8", "b": "800k"}
        frame_index = 0

        def put(image: Image.Image) -> None:
            nonlocal frame_index
            frame = av.VideoFrame.from_image(image)
            frame.pts = frame_index
            frame_index += 1
            for packet in stream.encode(frame):
                container.mux(packet)

        for k, (ids, seconds, motion) in enumerate(plan):
            if k > 0 and rng.random() < 0.25:  # a black gap between shots
                for _ in range(int(0.4 * FPS)):
                    put(Image.new("RGB", SIZE))
                t += int(0.4 * FPS) / FPS
            photos = [Image.open(products[i][2]) for i in ids]
            stage = _stage(photos[0], rng) if len(ids) == 1 else _stage_apart(photos, rng)
            for photo in photos:
                photo.close()
            n = int(seconds * FPS)
            offset = (rng.uniform(-0.12, 0.12), rng.uniform(-0.08, 0.08))
            for f in range(n):
                put(_window(stage, motion, f / max(n - 1, 1), offset))
            for i in ids:
                shown.append(
                    Shown(products[i][0], products[i][1], round(t, 3), round(t + n / FPS, 3), motion if len(ids) == 1 else f"apart-{motion}")
                )
            t += n / FPS
        for packet in stream.encode(None):
            container.mux(packet)
    return ClipManifest(str(out), codec, round(t, 3), shown)
