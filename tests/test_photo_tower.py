"""The image tower for shoppers' photos: trained from the catalogue CLIP on scenes of real
catalogue photos, saved and reloaded, files that are not such a tower refused, and a photo
read by it only where it is not a studio shot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from assistant.catalogue.loader import load_catalogue
from assistant.clip.model import load_kagl_clip
from assistant.clip.photo_tower import DEFAULT_PHOTO_TOWER, PhotoTower, PhotoTowerConfig, train_photo_tower
from assistant.clip.train import is_validation
from assistant.config import Settings
from assistant.encoders.clip import ClipEncoder
from assistant.encoders.framing import frame_product
from assistant.errors import ConfigError, ModelError
from assistant.retrieval.photo import encode_read, photo_vector
from assistant.runtime import Encoders, load_photo_tower

pytestmark = pytest.mark.model


def on_a_wall(photo: Image.Image) -> Image.Image:
    """The product of a studio photo on a brown wall, smaller, off-centre and turned 25
    degrees, as a phone might take it: its near-white pixels become the wall."""
    rgb = np.asarray(photo.convert("RGB"))
    mask = Image.fromarray(((rgb.min(axis=2) < 235) * 255).astype(np.uint8)).rotate(25, expand=True)
    product = photo.convert("RGB").rotate(25, expand=True)
    side = int(max(product.size) / 0.6)
    wall = Image.new("RGB", (side, side), (150, 112, 84))
    wall.paste(product, (side // 10, side // 5), mask)
    return wall


@pytest.fixture(scope="module")
def clip():
    return load_kagl_clip()


@pytest.fixture(scope="module")
def products(kagl_csv):
    return [p for p in load_catalogue(kagl_csv, limit=3000).products if p.image][:48]


@pytest.fixture(scope="module")
def trained(clip, products, tmp_path_factory):
    out = tmp_path_factory.mktemp("tower") / "photos.safetensors"
    cfg = PhotoTowerConfig(scene_views=1, epochs=3, batch_size=16, lr=1e-3, seed=3)
    report = train_photo_tower(products, clip, out, cfg, log=lambda _: None)
    return out, report


def test_training_lowers_the_loss_and_saves_only_the_trained_tail(trained, clip):
    out, report = trained
    assert report.loss_last < report.loss_first, "the scenes come to find their own product's studio vector"
    assert report.train + report.validation == 48 and report.train >= 2
    with safe_open(str(out), "pt") as f:
        meta, keys = f.metadata(), list(f.keys())
    assert meta["kind"] == "photo-tower" and meta["model"] == clip.name
    # the frozen part is the catalogue CLIP's own: the file holds the tail blocks and the head
    assert keys and all(k.startswith(("trunk.blocks.", "trunk.conv_head", "trunk.bn2", "head.")) for k in keys)
    assert not any(k.startswith(("trunk.conv_stem", "trunk.blocks.0.")) for k in keys)


def test_a_reloaded_tower_encodes_in_the_clips_space(trained, clip, products):
    out, _ = trained
    tower = PhotoTower.load(out, clip)
    photo = Image.open(products[0].image).convert("RGB")
    v = tower.encode_image([photo])
    assert v.shape == (1, clip.embed_dim) and np.isclose(np.linalg.norm(v[0]), 1.0, atol=1e-4)
    assert np.allclose(PhotoTower.load(out, clip).encode_image([photo]), v, atol=1e-6), "the same file reads the same"
    assert tower.report is not None and tower.report["train"] >= 2


def test_files_that_are_no_tower_of_this_clip_are_refused(tmp_path, trained, clip):
    with pytest.raises(ModelError, match="cannot read the photo tower"):
        PhotoTower.load(tmp_path / "missing.safetensors", clip)
    (tmp_path / "corrupt.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot read the photo tower"):
        PhotoTower.load(tmp_path / "corrupt.safetensors", clip)
    out, _ = trained
    tensors = load_file(str(out))
    save_file(tensors, str(tmp_path / "delta.safetensors"), metadata={"model": clip.name, "kind": "delta"})
    with pytest.raises(ModelError, match="is not a photo tower"):
        PhotoTower.load(tmp_path / "delta.safetensors", clip)
    short = dict(list(tensors.items())[1:])
    save_file(short, str(tmp_path / "short.safetensors"), metadata={"model": clip.name, "kind": "photo-tower", "unlock_blocks": "3"})
    with pytest.raises(ModelError, match="does not fit"):
        PhotoTower.load(tmp_path / "short.safetensors", clip)
    bent = {k: (torch.zeros(3) if i == 0 else v) for i, (k, v) in enumerate(tensors.items())}
    save_file(bent, str(tmp_path / "bent.safetensors"), metadata={"model": clip.name, "kind": "photo-tower", "unlock_blocks": "3"})
    with pytest.raises(ModelError, match="does not fit"):
        PhotoTower.load(tmp_path / "bent.safetensors", clip)


def test_a_studio_shot_is_read_by_the_clip_and_a_shoppers_photo_by_the_tower(trained, clip, products):
    out, _ = trained
    enc, tower = ClipEncoder(clip), PhotoTower.load(out, clip)
    studio = Image.open(products[1].image).convert("RGB")
    wall = on_a_wall(studio)
    assert frame_product(studio).studio and not frame_product(wall).studio
    assert np.allclose(photo_vector(enc, studio, ("framed",), tower=tower), photo_vector(enc, studio, ("framed",)))
    on_wall = photo_vector(enc, wall, ("framed",), tower=tower)
    assert np.allclose(on_wall, photo_vector(tower, wall, ("framed",)), atol=1e-5)
    assert not np.allclose(on_wall, photo_vector(enc, wall, ("framed",)), atol=1e-3)
    # a batch of both kinds: each row as its own tower reads it, in order
    rows = encode_read(enc, tower, [wall, studio], [False, True])
    assert np.allclose(rows[0], tower.encode_image([wall])[0], atol=1e-5) and np.allclose(rows[1], enc.encode_image([studio])[0], atol=1e-5)


def test_the_packaged_tower_finds_products_on_a_wall_more_often_than_the_clip(clip, kagl_csv):
    if not DEFAULT_PHOTO_TOWER.is_file():
        pytest.fail(f"the packaged photo tower is missing at {DEFAULT_PHOTO_TOWER}")
    tower, enc = PhotoTower.load(DEFAULT_PHOTO_TOWER, clip), ClipEncoder(clip)
    assert tower.report is not None and tower.report["scenes_own_at_5_tower"] > tower.report["scenes_own_at_5_clip"]
    # validation-split photos (neither the CLIP nor the tower trained on them), each searched
    # on a wall among all of them as the catalogue CLIP read them
    photos = [Image.open(p.image).convert("RGB") for p in load_catalogue(kagl_csv, limit=4000).products if p.image and is_validation(p.id)][:40]
    catalogue = enc.encode_image(photos)
    walls = [on_a_wall(p) for p in photos]

    def found_first(rows: np.ndarray) -> int:
        return int(((rows @ catalogue.T).argmax(axis=1) == np.arange(len(photos))).sum())

    assert found_first(tower.encode_image(walls)) > found_first(enc.encode_image(walls))


def test_the_packaged_tower_runs_beside_the_packaged_clip_unless_switched_off(clip):
    enc = Encoders(clip=ClipEncoder(clip), text=None, sparse=None)  # the tower reads only the CLIP
    assert isinstance(load_photo_tower(Settings.from_env({}), enc), PhotoTower)
    assert load_photo_tower(Settings.from_env({"SHOP_ASSISTANT_PHOTO_TOWER": "0"}), enc) is None
    # another CLIP's space is not the one the tower maps into
    assert load_photo_tower(Settings.from_env({"SHOP_ASSISTANT_CLIP_PRETRAINED": "/elsewhere/clip.safetensors"}), enc) is None
    with pytest.raises(ConfigError, match="PHOTO_TOWER"):
        Settings.from_env({"SHOP_ASSISTANT_PHOTO_TOWER": "off"})
