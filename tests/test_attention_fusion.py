"""Attention fusion: an untrained model is early fusion exactly, training on composed pairs from
the real catalogue lowers its loss, the saved model reloads to the same answers, and the
`attention` fusion mode refuses what it cannot read."""

from __future__ import annotations

import pytest
import torch

from assistant.clip.fusion_model import AttentionFusion
from assistant.errors import ModelError
from tests.kagl_subset import write_subset


def _inputs(n: int = 3, length: int = 5, d: int = 256) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    unit = lambda x: x / x.norm(dim=-1, keepdim=True)  # noqa: E731
    mask = torch.ones(n, length, dtype=torch.bool)
    mask[0, 3:] = False  # a shorter phrase, padded
    patches, image = torch.randn(n, 49, d, generator=g), unit(torch.randn(n, d, generator=g))
    return patches, image, torch.randn(n, length, d, generator=g), mask, unit(torch.randn(n, d, generator=g))


def test_an_untrained_model_is_early_fusion_and_its_matching_head_scores_every_candidate():
    model = AttentionFusion().eval()
    patches, image, tokens, mask, words = _inputs()
    q, state = model(patches, image, tokens, mask, words)
    assert torch.allclose(q, model.early(image, words), atol=1e-6)  # the gate starts closed
    assert torch.allclose(q.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert model.match(state, q, torch.randn(3, 4, 256)).shape == (3, 4)


def test_a_missing_or_broken_model_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="train-fusion"):
        AttentionFusion.load(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="does not load"):
        AttentionFusion.load(bad)


@pytest.mark.model
def test_training_on_real_composed_pairs_lowers_the_loss_and_the_model_reloads(tmp_path, kagl_csv):
    from assistant.catalogue.loader import load_catalogue
    from assistant.clip.model import load_kagl_clip
    from assistant.clip.tokens import photo_tokens, word_tokens
    from assistant.clip.train_fusion import FusionTrainConfig, train_fusion
    from assistant.encoders.images import load_image

    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=40)
    products = load_catalogue(csv_path).products
    clip = load_kagl_clip()
    out = tmp_path / "fusion.safetensors"
    cfg = FusionTrainConfig(minutes=5, max_steps=40, batch_size=32, lr=2e-3)
    report = train_fusion(clip, products, out, cfg, log=lambda _: None)
    assert report.pairs >= 32 and report.steps == 40
    assert report.loss_last < report.loss_first * 0.9, (report.loss_first, report.loss_last)
    assert out.with_suffix(".report.json").is_file()

    trained = AttentionFusion.load(out)
    photo = next(p for p in products if p.image is not None)
    pt = photo_tokens(clip, [load_image(photo.image)])
    wt = word_tokens(clip, ["but in black"])
    with torch.no_grad():
        again = trained(pt.patches, pt.vector, wt.tokens, wt.mask, wt.vector)[0]
        twice = AttentionFusion.load(out)(pt.patches, pt.vector, wt.tokens, wt.mask, wt.vector)[0]
    assert torch.equal(again, twice)
    assert float(trained.gate.detach()) != 0.0  # it learned to use what attention adds


def test_the_attention_mode_refuses_what_it_cannot_read(tmp_path):
    from PIL import Image

    from assistant.errors import QueryError
    from assistant.retrieval.search import Retriever, SearchRequest

    r = Retriever(None, "kagl", None, None, None)  # type: ignore[arg-type] - refused before any of them is used
    with pytest.raises(QueryError, match="train-fusion"):
        r._attention_lists(SearchRequest(text="in red", image=Image.new("RGB", (8, 8)), fusion="attention"))
    r.attention = object()  # type: ignore[assignment]
    with pytest.raises(QueryError, match="photo and words together"):
        r._attention_lists(SearchRequest(text="in red", fusion="attention"))
    with pytest.raises(QueryError, match="photo and words together"):
        r._attention_lists(SearchRequest(text="  ", image=Image.new("RGB", (8, 8)), fusion="attention"))
