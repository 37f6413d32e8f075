"""The reader of a photo's colour: pixel features that leave the studio white (and a backdrop)
out, training on real catalogue photos that beats chance and its CLIP-only twin's floor,
a reload that reads the same, and files that are not a reader refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from assistant.clip.colour_reader import HUE_BINS, SAT_BINS, VAL_BINS, ColourReader, pixel_features, train_colour_reader
from assistant.errors import ModelError

HIST = HUE_BINS * SAT_BINS * VAL_BINS


def square(colour: tuple[int, int, int], backdrop: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    im = Image.new("RGB", (224, 224), backdrop)
    ImageDraw.Draw(im).rectangle((70, 50, 154, 174), fill=colour)
    return im


def test_the_studio_white_is_not_the_products_colour():
    f = pixel_features(square((200, 20, 20)))
    assert f[:HIST].sum() == pytest.approx(1.0)
    assert f[HIST : HIST + 3] == pytest.approx([200 / 255, 20 / 255, 20 / 255], abs=0.05)  # mean red, green, blue (edges blend)
    white = pixel_features(square((250, 250, 250)))  # a white product keeps its pixels
    assert white[HIST : HIST + 3].min() > 0.95


def test_a_backdrop_is_not_the_products_colour_either():
    on_wall = pixel_features(square((200, 20, 20), backdrop=(40, 90, 200)))
    assert on_wall[HIST] > on_wall[HIST + 2] + 0.3  # read red, not the blue wall


def test_a_missing_broken_or_foreign_file_is_a_model_error(tmp_path):
    from assistant.clip.fusion_model import DEFAULT_FUSION_MODEL

    with pytest.raises(ModelError, match="train-colour-reader"):
        ColourReader.load(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="does not load"):
        ColourReader.load(bad)
    with pytest.raises(ModelError, match="not a colour reader"):
        ColourReader.load(DEFAULT_FUSION_MODEL)


@pytest.mark.model
def test_trained_on_real_photos_it_reads_colours_and_reloads_the_same(kagl_csv, tmp_path):
    import csv

    from assistant.clip.colour_reader import DEFAULT_COLOUR_READER
    from assistant.config import Settings
    from assistant.runtime import load_encoders

    with kagl_csv.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["image"]]
    picked = [r for c in ("Black", "White", "Blue", "Red") for r in [r for r in rows if r["base_colour"] == c][:60]]
    images = [Image.open(kagl_csv.parent / r["image"]).convert("RGB") for r in picked]
    clip = load_encoders(Settings()).clip
    vectors = clip.encode_image(images)
    pixels = np.stack([pixel_features(im) for im in images])
    colours = [r["base_colour"] for r in picked]
    is_val = np.arange(len(picked)) % 4 == 0
    reader, report = train_colour_reader(vectors, pixels, colours, is_val)
    assert (report.train, report.validation, report.colours) == (180, 60, 4)
    assert report.accuracy >= 0.75  # four colours: chance is 0.25
    path = tmp_path / "reader.safetensors"
    reader.save(path, report)
    again = ColourReader.load(path)
    p = again.probabilities(vectors[0], images[0])
    assert p == pytest.approx(reader.probabilities(vectors[0], images[0]))
    assert sum(p.values()) == pytest.approx(1.0) and set(p) == {"Black", "White", "Blue", "Red"}
    with pytest.raises(ModelError, match="dim"):
        again.probabilities(vectors[0][:10], images[0])
    packaged = ColourReader.load(DEFAULT_COLOUR_READER)  # the committed reader loads and reads these
    held = np.flatnonzero(is_val)
    reads = [max((q := packaged.probabilities(vectors[i], images[i])), key=q.get) for i in held]
    assert np.mean([r == colours[i] for r, i in zip(reads, held, strict=True)]) >= 0.75
