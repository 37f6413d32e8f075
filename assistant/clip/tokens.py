"""The catalogue CLIP's towers read token by token: a photo as patches, words as word pieces,
both in the joint 256-d space.

The image tower ends in an average pool and a linear projection without bias, so projecting
each of the 7x7 cells of its last feature map gives 49 patch vectors whose mean is exactly the
photo's CLIP vector (before normalising). The text tower mean-pools MiniLM's token states and
projects the mean through a small MLP; projecting each token state through the same MLP gives
word vectors in the same space (their mean is close to, not equal to, the sentence's vector).
These tokens are what attention fusion (`clip.fusion_model`) attends over.

Owns reading the towers below their pooling; not the pooled encoders (`encoders.clip`).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from assistant.clip.model import LoadedClip
from assistant.errors import ModelError


@dataclass
class PhotoTokens:
    patches: torch.Tensor  # [n, 49, d]
    vector: torch.Tensor  # [n, d], unit length: the photo's CLIP vector


@dataclass
class WordTokens:
    tokens: torch.Tensor  # [n, L, d]
    mask: torch.Tensor  # [n, L], True for a real token
    vector: torch.Tensor  # [n, d], unit length: the words' CLIP vector


def unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _check(clip: LoadedClip) -> None:
    visual, text = clip.model.visual, getattr(clip.model, "text", None)
    if not hasattr(visual, "trunk") or not hasattr(getattr(visual, "head", None), "proj") or not hasattr(text, "transformer"):
        raise ModelError(
            f"attention fusion reads the catalogue CLIP's towers (a timm trunk and a Hugging Face text tower); {clip.name!r} has other towers"
        )


class _Cells(torch.nn.Module):
    """The image tower up to its pooling, each cell of the last map projected: [b, 49, d]."""

    def __init__(self, visual: torch.nn.Module) -> None:
        super().__init__()
        self.trunk, self.proj = visual.trunk, visual.head.proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fmap = self.trunk.forward_features(x)  # [b, 1280, 7, 7]
        return self.proj(fmap.flatten(2).transpose(1, 2))


# One traced, frozen, channels-last copy per image tower, made on first use: as the pooled
# encoder (`encoders.clip`) reads photos, about 2x faster on this CPU than eager mode (a photo
# + words query reads its photo here). Frozen means the weights are copied in: a tower whose
# weights change after its first read here (none does: the towers are trained apart from this)
# would be read with the old ones.
_CELLS: weakref.WeakKeyDictionary[torch.nn.Module, Callable[[torch.Tensor], torch.Tensor]] = weakref.WeakKeyDictionary()


def _cells(visual: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    tower = _CELLS.get(visual)
    if tower is None:
        module = _Cells(visual).eval()
        try:
            module = module.to(memory_format=torch.channels_last)
            example = torch.zeros(2, 3, 224, 224).contiguous(memory_format=torch.channels_last)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit: see `encoders.clip`
                traced = torch.jit.freeze(torch.jit.trace(module, example))
            tower = lambda x: traced(x.contiguous(memory_format=torch.channels_last))  # noqa: E731
        except Exception:  # a tower that does not trace is read eagerly: correct, only slower
            tower = module
        _CELLS[visual] = tower
    return tower


@torch.no_grad()
def photo_tokens(clip: LoadedClip, images: Sequence[Image.Image], batch: int = 64) -> PhotoTokens:
    _check(clip)
    visual = clip.model.visual.eval()
    tower = _cells(visual)
    patches, vectors = [], []
    for i in range(0, len(images), batch):
        x = torch.stack([clip.preprocess(im) for im in images[i : i + batch]])
        cells = tower(x)  # [b, 49, d]
        patches.append(cells)
        vectors.append(unit(cells.mean(dim=1)))
    d = clip.embed_dim
    if not patches:
        return PhotoTokens(torch.zeros(0, 49, d), torch.zeros(0, d))
    return PhotoTokens(torch.cat(patches), torch.cat(vectors))


@torch.no_grad()
def word_tokens(clip: LoadedClip, texts: Sequence[str], batch: int = 128) -> WordTokens:
    _check(clip)
    text = clip.model.text.eval()
    pad_id = text.config.pad_token_id
    toks, masks, vectors = [], [], []
    for i in range(0, len(texts), batch):
        ids = clip.tokenizer(list(texts[i : i + batch]))
        ids = ids[:, : max(1, int((ids != pad_id).sum(1).max()))]
        mask = ids != pad_id
        out = text.transformer(input_ids=ids, attention_mask=mask.long())  # last_hidden_state [b, L, 384]
        toks.append(text.proj(out.last_hidden_state))
        masks.append(mask)
        vectors.append(unit(text.proj(text.pooler(out, mask.long()))))
    d = clip.embed_dim
    if not toks:
        return WordTokens(torch.zeros(0, 1, d), torch.zeros(0, 1, dtype=torch.bool), torch.zeros(0, d))
    # batches differ in length: pad each to the longest
    width = max(t.shape[1] for t in toks)
    tokens = torch.cat([torch.nn.functional.pad(t, (0, 0, 0, width - t.shape[1])) for t in toks])
    mask = torch.cat([torch.nn.functional.pad(m, (0, width - m.shape[1])) for m in masks])
    return WordTokens(tokens, mask, torch.cat(vectors))


def as_numpy(v: torch.Tensor) -> np.ndarray:
    return v.detach().float().numpy()
