"""A shopper's photo read in several views: the product framed on white only where it stands on
a backdrop that is not already white, the mirror image of each view, and unknown views refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from assistant.retrieval.photo import views
from benchmarks.photo_variants import KINDS, variant
from tests.kagl_subset import write_subset


@pytest.fixture(scope="module")
def studio_photo(tmp_path_factory, kagl_csv) -> tuple[str, Image.Image]:
    _, rows = write_subset(kagl_csv, tmp_path_factory.mktemp("photo") / "subset.csv", per_type=2)
    row = next(r for r in rows if r["image"])
    return row["id"], Image.open(row["image"]).convert("RGB")


def _border_mean(im: Image.Image) -> float:
    a = np.asarray(im, np.float32)
    return float(np.concatenate([a[:4].ravel(), a[-4:].ravel(), a[:, :4].ravel(), a[:, -4:].ravel()]).mean())


def test_a_studio_photo_is_not_reframed_and_its_mirror_is_read(studio_photo):
    _, photo = studio_photo
    out = views(photo, ["framed", "mirror"])
    assert len(out) == 2 and out[0] is photo
    assert np.array_equal(np.asarray(out[1]), np.asarray(photo)[:, ::-1])


def test_a_photo_on_a_tinted_backdrop_is_also_read_framed_on_white(studio_photo):
    pid, photo = studio_photo
    shot = variant(photo, pid, "backdrop")
    assert _border_mean(shot) < 240  # the shopper's photo: a wall around the product
    out = views(shot, ["framed"])
    assert len(out) == 2 and out[0] is shot
    assert _border_mean(out[1]) > 245 and out[1].size == (224, 224)
    assert len(views(shot, ["framed", "mirror"])) == 4
    assert views(shot, []) == [shot]


def test_every_shoppers_photo_kind_is_made_and_an_unknown_view_is_refused(studio_photo):
    pid, photo = studio_photo
    for kind in KINDS:
        im = variant(photo, pid, kind)
        assert im.mode == "RGB" and min(im.size) >= 224
        assert np.asarray(im).std() > 10  # not blank
    with pytest.raises(ValueError, match="unknown photo view"):
        views(photo, ["sharpen"])  # type: ignore[list-item]
