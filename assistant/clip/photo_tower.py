"""A second image tower for shoppers' photos, trained to speak the catalogue CLIP's language.

The catalogue CLIP learned products from studio photos on white. A shopper's phone photo
(the product on a wall, at a slant, off a screen) lands further from its own studio photo,
and a CLIP retrained on such scenes (`train-clip --scene-views`) reads them better but
studio photos worse, and its vectors would need a new index. This tower avoids both: it is
a copy of the catalogue CLIP's image tower whose trainable tail (the last MBConv blocks, the
head) learns to map a scene of a product (`clip.scenes`) onto the catalogue CLIP's vector of
that product's studio photo, against every other training product's studio vector (a
contrastive loss, as CLIP's, with the catalogue's vectors fixed as the targets). Its
vectors live in the catalogue CLIP's space, so the index, the text tower and every model
read from those vectors stay as they are; the search sends it only photos that are not
framed as the studio frames (`encoders.framing.Framed.studio`), and video frames.

Owns the tower's training, file and loading; not the routing of a photo (`retrieval.photo`).
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from assistant.catalogue.schema import Product
from assistant.clip.model import KAGL_CLIP, WEIGHTS_DIR, LoadedClip
from assistant.clip.train import TrainConfig, _set_seed, _tail_modules, cache_image_features, is_validation, tail_features
from assistant.encoders.clip import ClipEncoder
from assistant.errors import ModelError

DEFAULT_PHOTO_TOWER = WEIGHTS_DIR / f"{KAGL_CLIP}-photos.safetensors"
KIND = "photo-tower"


@dataclass
class PhotoTowerConfig:
    """Hyper-parameters; the defaults produce the packaged tower."""

    scene_views: int = 2  # cached scenes of each photo (`clip.scenes`), beside the studio view
    epochs: int = 6
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.05
    temperature: float = 0.05
    # Share of each batch shown as the studio photo itself: keeps a photo that the framing
    # takes for a shopper's but is a plain product shot where the catalogue CLIP put it.
    studio_share: float = 0.25
    seed: int = 0


@dataclass
class PhotoTowerReport:
    """Validation products' scenes finding their own product among the validation products'
    studio vectors (top 5), read by the catalogue CLIP and by this tower; and the studio photos'
    cosine to their catalogue CLIP vector (1.0: unchanged)."""

    train: int
    validation: int
    scenes_own_at_5_clip: float
    scenes_own_at_5_tower: float
    studio_cosine: float
    seconds: float
    config: dict = field(default_factory=dict)
    loss_first: float = 0.0
    loss_last: float = 0.0


class _Visual(nn.Module):
    """A bare image tower as `ClipEncoder` reads one (`model.visual`)."""

    def __init__(self, visual: nn.Module) -> None:
        super().__init__()
        self.visual = visual


def _trained_keys(visual: nn.Module, unlock_blocks: int) -> list[str]:
    """The state-dict keys of the tower's trainable tail and head: what the file holds."""
    names = {id(m): n for n, m in visual.named_modules()}
    prefixes = tuple(f"{names[id(m)]}." for m in _tail_modules(visual.trunk, unlock_blocks)) + ("head.",)
    return [k for k in visual.state_dict() if k.startswith(prefixes)]


def train_photo_tower(
    products: Sequence[Product],
    clip: LoadedClip,
    out: Path,
    cfg: PhotoTowerConfig | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> PhotoTowerReport:
    """Train the tower from `clip` (the catalogue CLIP the index was built with) on the
    products' photos; save it to `out` (the tail and head only: the rest is `clip`'s)."""
    cfg = cfg or PhotoTowerConfig()
    if cfg.scene_views < 1:
        raise ModelError("the photo tower learns from scenes: scene_views must be at least 1")
    t0 = time.time()
    _set_seed(cfg.seed)
    unlock = TrainConfig().unlock_blocks  # the catalogue CLIP's own cut: its frozen part is shared
    with_photo = [p for p in products if p.image is not None]
    cache_cfg = TrainConfig(views=1, scene_views=cfg.scene_views, seed=cfg.seed, unlock_blocks=unlock)
    key = None
    if cache_dir is not None:
        import hashlib

        digest = hashlib.sha1(json.dumps([cfg.scene_views, cfg.seed, [p.id for p in with_photo]]).encode()).hexdigest()[:12]
        key = cache_dir / f"photo-tower-{digest}.pt"
    if key is not None and key.is_file():
        log(f"using cached image features {key}")
        cached = torch.load(key, weights_only=False)
        feats, kept = cached["img"], cached["kept"]
    else:
        feats, kept, _ = cache_image_features(clip, list(with_photo), cache_cfg)
        if key is not None:
            key.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"img": feats, "kept": kept}, key)
    if len(kept) < 2:
        raise ModelError("the photo tower needs at least two readable product photos")
    is_val = torch.tensor([is_validation(with_photo[i].id) for i in kept])
    tr_idx, va_idx = torch.nonzero(~is_val).flatten(), torch.nonzero(is_val).flatten()
    if len(tr_idx) < 2:
        raise ModelError("the photo tower needs at least two training photos (outside the validation split)")
    teacher = clip.model.visual.eval()
    student = copy.deepcopy(teacher)

    def encode(visual: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(visual.head(tail_features(visual.trunk, x.float(), unlock)), dim=-1)

    with torch.no_grad():
        targets = torch.cat([encode(teacher, feats[i : i + 256, 0]) for i in range(0, len(feats), 256)])

    @torch.no_grad()
    def own_at_5(visual: nn.Module) -> float:
        if len(va_idx) == 0:
            return float("nan")
        visual.eval()
        pool = targets[va_idx]
        hits = 0
        for v in range(1, 1 + cfg.scene_views):
            q = torch.cat([encode(visual, feats[va_idx[i : i + 256], v]) for i in range(0, len(va_idx), 256)])
            top = (q @ pool.T).topk(min(5, len(va_idx)), dim=1).indices
            hits += int((top == torch.arange(len(va_idx))[:, None]).any(dim=1).sum())
        return hits / (len(va_idx) * cfg.scene_views)

    before = own_at_5(teacher)
    for p in student.parameters():
        p.requires_grad_(False)
    params = [p for m in [*_tail_modules(student.trunk, unlock), student.head] for p in m.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(tr_idx) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    pool = targets[tr_idx]  # every training product's studio vector is a candidate answer
    losses: list[float] = []
    log(f"photo tower: {len(tr_idx)} training photos, {len(va_idx)} validation; {cfg.epochs} epochs of {steps_per_epoch} steps")
    # Batch norm keeps the catalogue CLIP's statistics: the tower is tuned, not re-learned.
    student.eval()
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(tr_idx), generator=gen)
        for s in range(steps_per_epoch):
            rows = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            view = torch.tensor([0 if rng.random() < cfg.studio_share else rng.randint(1, cfg.scene_views) for _ in rows])
            q = encode(student, feats[tr_idx[rows], view])
            loss = nn.functional.cross_entropy(q @ pool.T / cfg.temperature, rows)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        log(f"epoch {epoch + 1}: loss {np.mean(losses[-steps_per_epoch:]):.3f}")
    after = own_at_5(student)
    with torch.no_grad():
        studio = torch.cat([encode(student, feats[va_idx[i : i + 256], 0]) for i in range(0, len(va_idx), 256)]) if len(va_idx) else None
    cosine = float((studio * targets[va_idx]).sum(dim=1).mean()) if studio is not None else float("nan")
    report = PhotoTowerReport(
        train=len(tr_idx),
        validation=len(va_idx),
        scenes_own_at_5_clip=before,
        scenes_own_at_5_tower=after,
        studio_cosine=cosine,
        seconds=time.time() - t0,
        config=asdict(cfg),
        loss_first=float(np.mean(losses[: max(1, steps_per_epoch)])),
        loss_last=float(np.mean(losses[-max(1, steps_per_epoch) :])),
    )
    sd = student.state_dict()
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": KAGL_CLIP, "kind": KIND, "unlock_blocks": str(unlock), "report": json.dumps(asdict(report))}
    save_file({k: sd[k].detach().contiguous() for k in _trained_keys(student, unlock)}, str(out), metadata=meta)
    return report


class PhotoTower:
    """The tower, loaded beside the catalogue CLIP it was trained from: `encode_image` gives
    vectors in that CLIP's space."""

    def __init__(self, clip: LoadedClip, visual: nn.Module, report: dict | None = None) -> None:
        self.report = report
        self.dim = clip.embed_dim
        self._encoder = ClipEncoder(LoadedClip(f"{clip.name}-photos", _Visual(visual), clip.preprocess, None, clip.embed_dim))

    def encode_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._encoder.encode_image(images)

    @classmethod
    def load(cls, path: Path, clip: LoadedClip) -> PhotoTower:
        """The tower at `path` on top of `clip`'s image tower; a `ModelError` where the file is
        missing, unreadable, or not a photo tower of this CLIP's architecture."""
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(path))
        except (FileNotFoundError, SafetensorError, OSError) as e:
            raise ModelError(f"cannot read the photo tower {path}: {e}") from e
        if meta.get("kind") != KIND or meta.get("model") != clip.name:
            raise ModelError(f"{path} is not a photo tower of {clip.name} (it says kind={meta.get('kind')!r}, model={meta.get('model')!r})")
        visual = copy.deepcopy(clip.model.visual).eval()
        expected = set(_trained_keys(visual, int(meta.get("unlock_blocks", TrainConfig().unlock_blocks))))
        if set(tensors) != expected:
            raise ModelError(f"{path} does not fit {clip.name}'s image tower ({len(set(tensors) ^ expected)} tensors differ)")
        try:
            visual.load_state_dict(tensors, strict=False)
        except RuntimeError as e:
            raise ModelError(f"{path} does not fit {clip.name}'s image tower: {e}") from e
        for p in visual.parameters():
            p.requires_grad_(False)
        return cls(clip, visual, json.loads(meta["report"]) if "report" in meta else None)
