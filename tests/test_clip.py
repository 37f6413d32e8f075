"""The catalogue CLIP: training lowers the loss, checkpoints round-trip, the default is sensible."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from assistant.catalogue.loader import load_catalogue
from assistant.clip.model import KAGL_CLIP, build_kagl_clip, export_open_clip_dir, load_kagl_clip, load_lite_imagenet, load_open_clip
from assistant.clip.train import TrainConfig, cache_image_features, caption_variants, is_validation, train_clip
from assistant.encoders.clip import ClipEncoder
from assistant.errors import ConfigError, ModelError

pytestmark = pytest.mark.model


def test_validation_split_is_fixed_and_about_eleven_percent(kagl_csv):
    ids = [p.id for p in load_catalogue(kagl_csv).products]
    share = sum(map(is_validation, ids)) / len(ids)
    assert 0.10 < share < 0.12
    assert is_validation("15970") == is_validation("15970")


def test_caption_variants_start_with_the_canonical_caption(kagl_csv):
    p = load_catalogue(kagl_csv, limit=1).products[0]
    v = caption_variants(p)
    assert v[0] == p.clip_caption() and v[1] == p.name and len(set(v)) >= 3


def test_training_lowers_the_loss_on_real_pairs(kagl_csv, tmp_path):
    products = [p for p in load_catalogue(kagl_csv, limit=2000).products if p.image][:96]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    products += [
        products[0].model_copy(update={"id": "b1", "image": broken}),
        products[1].model_copy(update={"id": "b2", "image": tmp_path / "gone.jpg"}),
    ]
    cfg = TrainConfig(epochs=4, batch_size=32, views=1, unlock_blocks=1, unlock_text_layers=1, seed=1)
    report = train_clip(products, tmp_path / "tiny.safetensors", cfg, log=lambda _: None)
    assert report.skipped_images == 2, "a corrupt and a missing photo are skipped and counted"
    assert report.train_pairs + report.val_pairs == 96
    losses = [e["loss"] for e in report.epochs]
    assert losses[-1] < losses[0] * 0.8, losses
    assert (tmp_path / "tiny.safetensors").is_file() and (tmp_path / "tiny.report.json").is_file()
    # The delta checkpoint reloads to identical embeddings.
    a = load_kagl_clip(tmp_path / "tiny.safetensors")
    b = load_kagl_clip(tmp_path / "tiny.safetensors")
    tokens = a.tokenizer(["Puma Men Black Sports Shoes"])
    with torch.no_grad():
        assert torch.equal(a.model.encode_text(tokens), b.model.encode_text(tokens))
    # the attribute term trains beside the contrastive loss and adds to it
    attr = train_clip(products, tmp_path / "attr.safetensors", replace(cfg, epochs=2, attribute_weight=0.5), log=lambda _: None)
    assert (tmp_path / "attr.safetensors").is_file()
    assert attr.epochs[0]["loss"] > report.epochs[0]["loss"]
    assert report.final is not None and report.final.scene_own_at_5 is None, "no scenes, no scene figure"


def test_scene_views_are_cached_beside_the_studio_view_and_trained_on(kagl_csv, tmp_path):
    products = [p for p in load_catalogue(kagl_csv, limit=2000).products if p.image][:40]
    cfg = TrainConfig(epochs=1, batch_size=16, views=1, scene_views=1, unlock_blocks=1, unlock_text_layers=1, seed=1)
    feats, kept, skipped = cache_image_features(build_kagl_clip(imagenet_init=True), products, cfg)
    assert feats.shape[:2] == (40, 2) and skipped == 0, "each photo: its studio view, then its scene"
    # the scene is another picture of the product, not a copy of the studio view
    assert not torch.allclose(feats[:, 0].float(), feats[:, 1].float(), atol=1e-2)
    report = train_clip(products, tmp_path / "scenes.safetensors", cfg, log=lambda _: None)
    assert report.final is not None and report.final.scene_own_at_5 is not None
    assert report.config.scene_views == 1


@pytest.fixture(scope="module")
def default_clip():
    return load_kagl_clip()


def test_default_model_puts_a_watch_photo_closest_to_watch(default_clip, kagl_csv):
    watch = next(p for p in load_catalogue(kagl_csv).products if p.category == "Watches" and p.image and is_validation(p.id))
    enc = ClipEncoder(default_clip)
    labels = ["watch", "shoes", "t-shirt", "handbag", "sunglasses", "jeans", "sandals"]
    img = enc.encode_image([Image.open(watch.image).convert("RGB")])
    txt = enc.encode_text([f"a photo of {x}" for x in labels])
    assert labels[int(np.argmax(txt @ img[0]))] == "watch"


def test_exported_checkpoint_loads_in_plain_open_clip_with_identical_embeddings(default_clip, tmp_path):
    export_open_clip_dir(default_clip, tmp_path / "export")
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{tmp_path / 'export'}")
    model.eval()
    tok = open_clip.get_tokenizer(f"local-dir:{tmp_path / 'export'}")
    img = Image.new("RGB", (224, 224), (200, 30, 30))
    with torch.no_grad():
        x = preprocess(img)[None]
        assert torch.allclose(model.encode_image(x), default_clip.model.encode_image(default_clip.preprocess(img)[None]), atol=1e-5)
        t = tok(["red dress"])
        assert torch.allclose(model.encode_text(t), default_clip.model.encode_text(default_clip.tokenizer(["red dress"])), atol=1e-5)
    # ... by name, after registering the exported config ...
    open_clip.add_model_config(tmp_path / "export" / f"{KAGL_CLIP}.json")
    by_name, _, _ = open_clip.create_model_and_transforms(
        KAGL_CLIP, pretrained=str(tmp_path / "export" / "open_clip_model.safetensors"), image_mean=(0.498,) * 3, image_std=(0.502,) * 3
    )
    by_name.eval()
    with torch.no_grad():
        assert torch.allclose(by_name.encode_text(t), model.encode_text(t), atol=1e-5)
    # ... and through the project's own loader, by configuration.
    again = load_open_clip(f"local-dir:{tmp_path / 'export'}", None)
    assert again.embed_dim == default_clip.embed_dim


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(ModelError, match="nope.safetensors"):
        load_open_clip(KAGL_CLIP, str(tmp_path / "nope.safetensors"))
    with pytest.raises(ModelError, match="nope.pt"):
        load_open_clip("ViT-B-32", str(tmp_path / "nope.pt"))


def test_unknown_model_names_the_choices():
    with pytest.raises(ConfigError, match=KAGL_CLIP):
        load_open_clip("no-such-clip", None)


def test_attribute_heads_classify_what_the_catalogue_says_and_skip_what_it_does_not(kagl_csv):
    from assistant.clip.train import AttributeHeads

    products = [p for p in load_catalogue(kagl_csv, limit=400).products if p.image][:60]
    products[0] = products[0].model_copy(update={"colour": None})
    heads = AttributeHeads.for_products(products, list(range(len(products))), 16)
    assert int(heads.labels["colour"][0]) == -1, "a product without a colour has no colour class"
    assert heads.weights["category"].shape[0] == len({str(p.category) for p in products})
    # Vectors that carry the kind (one direction per kind) are learnt to be classified by it.
    kinds = heads.labels["category"]
    torch.manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(int(kinds.max()) + 1, 16), dim=-1)
    vectors = torch.nn.functional.normalize(directions[kinds] + 0.1 * torch.randn(len(products), 16), dim=-1)
    rows = torch.arange(len(products))
    opt = torch.optim.Adam(heads.parameters(), lr=0.05)
    first = float(heads.loss(vectors, rows).detach())
    for _ in range(100):
        opt.zero_grad()
        loss = heads.loss(vectors, rows)
        loss.backward()
        opt.step()
    assert float(heads.loss(vectors, rows).detach()) < 0.5 * first
    logits = vectors @ torch.nn.functional.normalize(heads.weights["category"], dim=-1).T
    assert float((logits.argmax(1) == kinds).float().mean()) > 0.9


def test_a_backbone_whose_weights_are_not_installed_says_which_package_to_install():
    import timm

    trunk = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    with pytest.raises(ModelError, match="efficientnet-lite9-pytorch-model"):
        load_lite_imagenet(trunk, 9)
