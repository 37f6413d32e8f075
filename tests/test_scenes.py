"""Shopper-like scenes for training the catalogue CLIP: the product is moved, not changed."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from assistant.clip.scenes import scene


def studio_photo(colour: tuple[int, int, int]) -> Image.Image:
    """A product of one colour, centred on studio white, as the catalogue shoots it."""
    img = Image.new("RGB", (224, 224), (255, 255, 255))
    ImageDraw.Draw(img).rectangle((62, 40, 162, 184), fill=colour)
    return img


def product_pixels(img: Image.Image, colour: tuple[int, int, int], tolerance: float = 40.0) -> int:
    rgb = np.asarray(img.convert("RGB"), np.float32)
    return int((np.linalg.norm(rgb - np.array(colour, np.float32), axis=-1) < tolerance).sum())


def test_a_scene_keeps_the_products_colour_and_takes_it_off_the_studio_white():
    red, fabric = studio_photo((200, 30, 30)), studio_photo((40, 120, 60))
    rng = random.Random(3)
    scenes = [scene(red, fabric, rng) for _ in range(40)]
    for s in scenes:
        assert s.mode == "RGB" and min(s.size) >= 240, "a phone's frame, not a thumbnail"
        # the product is still there, in its own colour: light and JPEG move it a little only
        assert product_pixels(s, (200, 30, 30), tolerance=70) > 0.02 * s.size[0] * s.size[1]
    backdrops = [s for s in scenes if np.asarray(s)[:8, :8].min() < 200]
    on_white = [s for s in scenes if np.asarray(s)[:8, :8].min() >= 200]
    assert len(backdrops) > len(scenes) / 2 and on_white, "mostly on a backdrop, some on white as the search frames a photo"
    # the backdrop is the other photo's surface (its green), dimmed, never the red product
    corner = np.asarray(backdrops[0], np.float32)[:8, :8].reshape(-1, 3).mean(axis=0)
    assert corner[1] > corner[0], corner


def test_scenes_are_the_same_for_the_same_seed_and_vary_between_draws():
    photo, other = studio_photo((20, 20, 120)), studio_photo((150, 110, 60))
    a = [np.asarray(scene(photo, other, r)) for r in [random.Random(7)] * 3]
    b = [np.asarray(scene(photo, other, r)) for r in [random.Random(7)] * 3]
    assert all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert len({x.tobytes() for x in a}) == 3, "each draw is another scene"
