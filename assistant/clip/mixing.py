"""Two catalogue CLIPs mixed weight by weight: studio photos kept, shoppers' photos learned.

A catalogue CLIP trained with shoppers' photos (`train-clip --scene-views 2`, `clip.scenes`)
finds a product photographed on a wall, at a slant or off a screen about twice as often as one
trained on studio photos only, and loses a little on studio photos, which is what the photo
with words and the photo-only benchmarks send. Both start from the same frozen trunk and
text tower and train the same layers, so their weights can be averaged, tensor by tensor, into
one model (a "model soup", as in WiSE-FT: Wortsman et al. 2022, robust fine-tuning). `share` is
the second model's part. On the photo dev set (`benchmarks/bench_clip_photos.py --set dev`) the
mixes fell between their sources, not beyond them, so the packaged CLIP is no mix (README).

Owns the mixing of two delta checkpoints; not their training (`clip.train`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from assistant.errors import ModelError


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise ModelError(f"CLIP checkpoint not found: {path}")
    try:
        with safe_open(str(path), "pt") as f:
            meta = dict(f.metadata() or {})
        return load_file(str(path)), meta
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        raise ModelError(f"the CLIP checkpoint at {path} does not load: {e}") from e


def mix_checkpoints(first: Path, second: Path, share: float, out: Path) -> dict[str, str]:
    """Write (1 - share) * first + share * second, tensor by tensor, to `out`; returns its
    metadata. Integer tensors (batch-norm counters) are the first's. Both must be delta
    checkpoints of the same model with the same tensors: a mix of unlike models is nonsense."""
    if not 0.0 <= share <= 1.0:
        raise ModelError(f"the second model's share must be between 0 and 1, not {share}")
    a, meta_a = _read(first)
    b, meta_b = _read(second)
    if meta_a.get("kind") != "delta" or meta_b.get("kind") != "delta" or meta_a.get("model") != meta_b.get("model"):
        raise ModelError(f"{first} and {second} are not delta checkpoints of one catalogue CLIP ({meta_a} / {meta_b})")
    if set(a) != set(b):
        raise ModelError(f"{first} and {second} hold different tensors ({sorted(set(a) ^ set(b))[:3]}...): not one model")
    mixed: dict[str, torch.Tensor] = {}
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape:
            raise ModelError(f"{name} is {tuple(x.shape)} in {first} and {tuple(y.shape)} in {second}: not one model")
        mixed[name] = ((1.0 - share) * x.float() + share * y.float()).to(x.dtype).contiguous() if x.is_floating_point() else x.contiguous()
    meta = {**meta_a, "mixed": f"{1.0 - share:g} {first.name} + {share:g} {second.name}"}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(out), metadata=meta)
    return meta
