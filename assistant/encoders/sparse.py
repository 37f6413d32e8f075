"""BM25 keyword terms for the sparse `bm25` vector.

Term weights come from Qdrant's own BM25 model (`qdrant_edge.Bm25`: tokenizer, English
stemmer and stop words, term-frequency saturation and length normalisation); the engine
applies IDF at query time through the vector's IDF modifier. The same terms are sent to the
embedded and the server engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import qdrant_edge as qe

from assistant.index.base import SparseVec


class Bm25Encoder:
    """`SparseEncoder` with BM25 document weighting (k=1.2, b=0.75)."""

    def __init__(self, avg_len: float = 16.0) -> None:
        # avg_len: product texts are short (KAGL: ~14 tokens), not the 256 of web pages.
        self._bm25 = qe.Bm25(qe.Bm25Config(avg_len=avg_len, language="english"))

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVec]:
        return [self._convert(self._bm25.embed_document(t)) for t in texts]

    def encode_query(self, text: str) -> SparseVec:
        return self._convert(self._bm25.embed_query(text))

    @staticmethod
    def _convert(v: qe.SparseVector) -> SparseVec:
        return SparseVec(indices=list(v.indices), values=list(v.values))
