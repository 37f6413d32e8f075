"""The sentence encoder for the `text` vector: all-MiniLM-L6-v2 from its PyPI package."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.encoders.base import l2_normalise
from assistant.errors import ModelError


class SentenceEncoder:
    """`TextEncoder` over a sentence-transformers model folder (default: the packaged MiniLM)."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            from assistant.clip.model import minilm_path

            model_path = minilm_path()
        try:
            self.model = SentenceTransformer(model_path, device="cpu")
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load sentence encoder from {model_path}: {e}") from e
        self.dim = int(self.model.get_embedding_dimension() or 384)
        self.batch_size = batch_size

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        emb = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        return l2_normalise(np.asarray(emb))
