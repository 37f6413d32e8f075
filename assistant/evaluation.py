"""Retrieval evaluation: graded judgements → nDCG@10, Recall@10/50 and MRR per fusion mode.

Owns the metrics (pure functions) and running a query set through a `Retriever` once per
fusion mode. A query set is JSON Lines: `text` and/or `image` (a path, relative to the
file), optional `filters`, and `relevant`: {product id: grade}, grade 1 or 2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import QueryError
from assistant.index.base import Filters
from assistant.retrieval.search import FUSION_MODES, FusionMode, Retriever, SearchRequest


def dcg(grades: Sequence[int]) -> float:
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    return dcg([relevant.get(i, 0) for i in ranked[:k]]) / ideal if ideal > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Relevant items found in the top k over those that could fit there: min(k, |relevant|)."""
    rel = {i for i, g in relevant.items() if g > 0}
    if not rel:
        return 0.0
    return len(rel.intersection(ranked[:k])) / min(k, len(rel))


def mrr(ranked: Sequence[str], relevant: Mapping[str, int]) -> float:
    for i, pid in enumerate(ranked, 1):
        if relevant.get(pid, 0) > 0:
            return 1.0 / i
    return 0.0


@dataclass
class EvalQuery:
    id: str
    kind: str
    text: str | None
    image: Path | None
    filters: Filters | None
    relevant: dict[str, int]
    article_type: str | None = None  # of the query's product: enables type precision@10


def load_query_set(path: Path) -> list[EvalQuery]:
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                o = json.loads(line)
            except json.JSONDecodeError as e:
                raise QueryError(f"{path}:{n}: invalid JSON: {e.msg}") from e
            image = Path(o["image"]) if o.get("image") else None
            if image is not None and not image.is_absolute() and not image.exists():
                image = path.parent / image
            out.append(
                EvalQuery(
                    id=str(o.get("id", n)),
                    kind=o.get("kind", "photo+text" if image and o.get("text") else "photo" if image else "text"),
                    text=o.get("text"),
                    image=image,
                    filters=Filters(**o["filters"]) if o.get("filters") else None,
                    relevant={str(k): int(v) for k, v in o.get("relevant", {}).items()},
                    article_type=o.get("article_type"),
                )
            )
    return out


@dataclass
class ModeScores:
    mode: str
    kind: str
    queries: int = 0
    ndcg_10: float = 0.0
    recall_10: float = 0.0
    recall_50: float = 0.0
    mrr: float = 0.0
    type_precision_10: float | None = None  # share of the top 10 of the query product's article type
    type_queries: int = 0
    per_query: dict[str, float] = field(default_factory=dict)


def evaluate(
    retriever: Retriever,
    queries: list[EvalQuery],
    modes: Sequence[FusionMode] = FUSION_MODES,
    load_image: Callable[[Path], Any] | None = None,
    progress: bool = True,
) -> list[ModeScores]:
    """Scores per (mode, query kind) and per mode over all queries it can answer."""
    from tqdm import tqdm

    from assistant.encoders.images import load_image as _load

    load = load_image or _load
    images = {q.id: load(q.image) for q in queries if q.image is not None}
    rows: dict[tuple[str, str], ModeScores] = {}
    bar = tqdm(total=len(modes) * len(queries), desc="eval", unit="query", disable=not progress)
    for mode in modes:
        for q in queries:
            bar.update(1)
            if mode in ("bm25", "text") and q.text is None:
                continue  # a photo alone has no words for these modes
            if mode == "attention" and (q.text is None or q.image is None):
                continue  # attention fusion reads a photo and words together
            resp = retriever.search(SearchRequest(text=q.text, image=images.get(q.id), filters=q.filters, fusion=mode, k=50, pinned=True))
            ranked = [h.product_id for h in resp.hits]
            for kind in (q.kind, "all"):
                r = rows.setdefault((mode, kind), ModeScores(mode, kind))
                if q.article_type is not None:
                    top = [h.product.category for h in resp.hits[:10]]
                    r.type_precision_10 = (r.type_precision_10 or 0.0) + sum(t == q.article_type for t in top) / 10
                    r.type_queries += 1
                if not q.relevant:
                    continue
                r.queries += 1
                r.ndcg_10 += ndcg_at_k(ranked, q.relevant, 10)
                r.recall_10 += recall_at_k(ranked, q.relevant, 10)
                r.recall_50 += recall_at_k(ranked, q.relevant, 50)
                r.mrr += mrr(ranked, q.relevant)
                if kind == "all":
                    r.per_query[q.id] = ndcg_at_k(ranked, q.relevant, 10)
    bar.close()
    for r in rows.values():
        for name in ("ndcg_10", "recall_10", "recall_50", "mrr"):
            setattr(r, name, getattr(r, name) / max(r.queries, 1))
        if r.type_precision_10 is not None:
            r.type_precision_10 /= r.type_queries
    return sorted(rows.values(), key=lambda r: (r.kind, FUSION_MODES.index(r.mode)))  # type: ignore[arg-type]
