"""Two catalogue CLIPs mixed weight by weight: each weight between its sources, the mix loads
and encodes, unlike checkpoints are refused before anything is written."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from assistant.catalogue.loader import load_catalogue
from assistant.clip.mixing import mix_checkpoints
from assistant.clip.model import DEFAULT_WEIGHTS, load_kagl_clip
from assistant.encoders.clip import ClipEncoder
from assistant.errors import ModelError

DELTA = {"model": "kagl-clip-lite0", "kind": "delta"}


def _checkpoint(path, tensors, meta=DELTA):
    save_file(tensors, str(path), metadata=meta)
    return path


def test_each_weight_is_the_shared_mix_of_its_sources_and_counters_are_the_first(tmp_path):
    a = _checkpoint(tmp_path / "a.safetensors", {"w": torch.zeros(2, 3), "n": torch.tensor(7)})
    b = _checkpoint(tmp_path / "b.safetensors", {"w": torch.full((2, 3), 4.0), "n": torch.tensor(9)})
    meta = mix_checkpoints(a, b, 0.25, tmp_path / "m.safetensors")
    m = load_file(str(tmp_path / "m.safetensors"))
    assert torch.equal(m["w"], torch.full((2, 3), 1.0)), "0.75 * 0 + 0.25 * 4"
    assert int(m["n"]) == 7, "a batch-norm counter is not averaged"
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as f:
        assert f.metadata()["kind"] == "delta" and f.metadata()["mixed"] == meta["mixed"] == "0.75 a.safetensors + 0.25 b.safetensors"


@pytest.mark.parametrize(
    ("second", "meta", "share", "said"),
    [
        ({"w": torch.zeros(2, 3), "x": torch.zeros(1)}, DELTA, 0.5, "different tensors"),
        ({"w": torch.zeros(3, 2)}, DELTA, 0.5, "(3, 2)"),
        ({"w": torch.zeros(2, 3)}, {"model": "another-clip", "kind": "delta"}, 0.5, "not delta checkpoints of one"),
        ({"w": torch.zeros(2, 3)}, DELTA, 1.5, "between 0 and 1"),
    ],
)
def test_unlike_checkpoints_or_a_share_out_of_range_are_refused_and_nothing_is_written(tmp_path, second, meta, share, said):
    a = _checkpoint(tmp_path / "a.safetensors", {"w": torch.zeros(2, 3)})
    b = _checkpoint(tmp_path / "b.safetensors", second, meta)
    with pytest.raises(ModelError, match=re.escape(said)):
        mix_checkpoints(a, b, share, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_a_missing_or_corrupt_source_is_a_model_error(tmp_path):
    a = _checkpoint(tmp_path / "a.safetensors", {"w": torch.zeros(2, 3)})
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not found"):
        mix_checkpoints(a, tmp_path / "nope.safetensors", 0.5, tmp_path / "m.safetensors")
    with pytest.raises(ModelError, match="does not load"):
        mix_checkpoints(a, tmp_path / "bad.safetensors", 0.5, tmp_path / "m.safetensors")


@pytest.mark.model
def test_the_packaged_clip_mixed_loads_and_lies_between_its_sources(tmp_path, kagl_csv):
    # A second model from the same start: the packaged one with its image projection moved.
    sd = load_file(str(DEFAULT_WEIGHTS))
    proj = "visual.head.proj.weight"
    moved = dict(sd)
    gen = torch.Generator().manual_seed(0)
    moved[proj] = sd[proj] + 0.5 * sd[proj].std() * torch.randn(sd[proj].shape, generator=gen)
    with safe_open(str(DEFAULT_WEIGHTS), "pt") as f:
        meta = f.metadata()
    second = _checkpoint(tmp_path / "moved.safetensors", moved, meta)
    (tmp_path / "moved.report.json").write_text(json.dumps({"epochs": []}))
    out = tmp_path / "mixed.safetensors"
    r = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "mix-clip", str(DEFAULT_WEIGHTS), str(second), "--share", "0.5", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["mixed"]["share"] == 0.5 and report["first"] is not None and report["second"] == {"epochs": []}
    assert torch.allclose(load_file(str(out))[proj], (sd[proj] + moved[proj]) / 2)

    product = next(p for p in load_catalogue(kagl_csv, limit=200).products if p.image)
    photo = Image.open(product.image).convert("RGB")
    vectors = [ClipEncoder(load_kagl_clip(w)).encode_image([photo])[0] for w in (DEFAULT_WEIGHTS, second, out)]
    # Only the (linear) projection differs, so the mix's photo vector lies between its
    # sources': nearer each of them than they are to each other.
    apart = float(np.dot(vectors[0], vectors[1]))
    assert apart < 0.999, "the two sources differ"
    assert float(np.dot(vectors[2], vectors[0])) > apart and float(np.dot(vectors[2], vectors[1])) > apart
