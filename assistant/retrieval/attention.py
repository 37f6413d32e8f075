"""The `attention` fusion mode's query: a photo and words read together by the trained
attention fusion model (`clip.fusion_model`), one vector in the catalogue CLIP's space.

Owns turning one (photo, words) query into that vector; not the model (`clip.fusion_model`),
its tokens (`clip.tokens`) nor how the vector is searched (`retrieval.search`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from assistant.clip.fusion_model import AttentionFusion
from assistant.clip.model import LoadedClip
from assistant.clip.tokens import PhotoTokens, photo_tokens, word_tokens


class AttentionComposer:
    """A photo + words → the attention-fused query vector (unit length)."""

    def __init__(self, clip: LoadedClip, model: AttentionFusion) -> None:
        self.clip = clip
        self.model = model.eval()

    @classmethod
    def load(cls, clip: LoadedClip, path: Path) -> AttentionComposer:
        return cls(clip, AttentionFusion.load(path))

    @torch.no_grad()
    def query(self, image: Image.Image, words: str, photo: PhotoTokens | None = None) -> np.ndarray:
        """`photo`: `image`'s tokens (`clip.tokens.photo_tokens`), where the caller read them."""
        p = photo if photo is not None else photo_tokens(self.clip, [image])
        w = word_tokens(self.clip, [words])
        q, _ = self.model(p.patches, p.vector, w.tokens, w.mask, w.vector)
        return q[0].float().numpy()
