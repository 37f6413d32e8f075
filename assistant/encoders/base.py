"""The encoder interfaces, shaped like open_clip's `encode_image` / `encode_text`.

Dense encoders return float32 arrays of shape [n, dim], each row L2-normalised, so that
cosine similarity is a dot product. The sparse encoder returns one `SparseVec` per text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from assistant.index.base import SparseVec


class TextEncoder(Protocol):
    dim: int

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """[n, dim] float32, rows L2-normalised."""


class ImageEncoder(Protocol):
    dim: int

    def encode_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        """[n, dim] float32, rows L2-normalised."""


class ImageTextEncoder(TextEncoder, ImageEncoder, Protocol):
    def encode_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        """[n, dim] float32, rows L2-normalised, in the same space as `encode_text`."""


class SparseEncoder(Protocol):
    def encode_documents(self, texts: Sequence[str]) -> list[SparseVec]: ...

    def encode_query(self, text: str) -> SparseVec: ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)
