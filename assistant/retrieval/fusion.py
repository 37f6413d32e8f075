"""Fusion as pure functions (the founding design's early and late fusion).

Late fusion combines ranked lists, one per modality, into one ranking: reciprocal rank
fusion (RRF), distribution-based score fusion (DBSF, as Qdrant defines it: each list's
scores mapped through mean ± 3 sample standard deviations to about [0, 1], then summed) and a weighted
sum of min-max normalised scores. Early fusion combines vectors into one joint vector.
Nothing here mutates its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranked:
    """An item of one modality's ranked list: its id and that modality's raw score."""

    id: str
    score: float


@dataclass(frozen=True)
class Fused:
    """An item of the fused list: fused score and, per contributing modality, (rank, score)."""

    id: str
    score: float
    sources: Mapping[str, tuple[int, float]]  # modality → (1-based rank, raw score)


def sources(lists: Mapping[str, Sequence[Ranked]]) -> dict[str, dict[str, tuple[int, float]]]:
    out: dict[str, dict[str, tuple[int, float]]] = {}
    for name, items in lists.items():
        for rank, it in enumerate(items, 1):
            out.setdefault(it.id, {}).setdefault(name, (rank, it.score))
    return out


def _ordered(scores: dict[str, float], sources: dict[str, dict[str, tuple[int, float]]]) -> list[Fused]:
    # Ties broken by id so that the order is deterministic across engines and runs.
    return [Fused(i, s, sources[i]) for i, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def rrf(lists: Mapping[str, Sequence[Ranked]], k: int = 60, weights: Mapping[str, float] | None = None) -> list[Fused]:
    """Reciprocal rank fusion, exactly as Qdrant's Query API computes it.

    score = sum over lists of 1 / ((position + 1) / weight + k - 1), position counting
    from 0; with weight 1 that is 1 / (k + position). A weight scales how fast a list's
    votes decay with rank. Fusing here and in the engine gives the same scores (Cormack et
    al. count ranks from 1: their k=60 is our k=61).
    """
    if k < 1:
        raise ValueError("RRF k must be >= 1")
    srcs = sources(lists)
    scores: dict[str, float] = {}
    for name, items in lists.items():
        w = 1.0 if weights is None else weights.get(name, 1.0)
        seen: set[str] = set()
        for rank, it in enumerate(items):
            if it.id in seen:
                continue
            seen.add(it.id)
            if w <= 0:
                break
            scores[it.id] = scores.get(it.id, 0.0) + 1.0 / ((rank + 1) / w + k - 1)
    return _ordered(scores, srcs)


def _dbsf_normalise(values: np.ndarray) -> np.ndarray:
    # As Qdrant does it: sample standard deviation (n - 1), no clipping, a lone score is 0.5.
    if len(values) < 2:
        return np.full_like(values, 0.5)
    mean, std = float(values.mean()), float(values.std(ddof=1))
    lo, hi = mean - 3 * std, mean + 3 * std
    if hi - lo < 1e-12:
        return np.full_like(values, 0.5)
    return (values - lo) / (hi - lo)


def dbsf(lists: Mapping[str, Sequence[Ranked]], weights: Mapping[str, float] | None = None) -> list[Fused]:
    """Distribution-based score fusion: per-list mean ± 3σ normalisation, then a (weighted) sum (Qdrant's, plus weights)."""
    srcs = sources(lists)
    scores: dict[str, float] = {}
    for name, items in lists.items():
        w = 1.0 if weights is None else weights.get(name, 1.0)
        norm = _dbsf_normalise(np.array([it.score for it in items], dtype=np.float64))
        for it, s in zip(items, norm, strict=True):
            scores[it.id] = scores.get(it.id, 0.0) + w * float(s)
    return _ordered(scores, srcs)


def weighted(lists: Mapping[str, Sequence[Ranked]], weights: Mapping[str, float]) -> list[Fused]:
    """Weighted sum of min-max normalised scores; an item missing from a list adds 0 for it."""
    srcs = sources(lists)
    scores: dict[str, float] = {}
    for name, items in lists.items():
        if not items:
            continue
        vals = np.array([it.score for it in items], dtype=np.float64)
        lo, hi = float(vals.min()), float(vals.max())
        norm = (vals - lo) / (hi - lo) if hi > lo else np.ones_like(vals)
        w = weights.get(name, 0.0)
        for it, s in zip(items, norm, strict=True):
            scores[it.id] = scores.get(it.id, 0.0) + w * float(s)
    return _ordered(scores, srcs)


def early_fuse(vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """normalise(sum_i w_i * v_i / |v_i|): one joint vector from several in the same space."""
    if len(vectors) != len(weights) or not vectors:
        raise ValueError("early_fuse needs one weight per vector and at least one vector")
    acc = np.zeros_like(np.asarray(vectors[0], dtype=np.float64))
    for v, w in zip(vectors, weights, strict=True):
        v = np.asarray(v, dtype=np.float64)
        acc = acc + w * v / max(float(np.linalg.norm(v)), 1e-12)
    n = float(np.linalg.norm(acc))
    if n < 1e-12:
        raise ValueError("early fusion cancelled out to a zero vector")
    return (acc / n).astype(np.float32)


def rank_tally(values: Sequence[str | None], weight: float = 1.0, into: dict[str, float] | None = None) -> dict[str, float]:
    """Each value of a ranked list (best first) votes weight / rank; unknown values do not vote.
    Adds to `into` when given (several lists voting together) and returns it."""
    tally = {} if into is None else into
    for rank, v in enumerate(values, 1):
        if v:
            tally[v] = tally.get(v, 0.0) + weight / rank
    return tally


def head_vote(
    fused: Sequence[Fused], attributes: Mapping[str, tuple[Mapping[str, str | None], float]], depth: int
) -> tuple[list[Fused], dict[str, dict[str, float]]]:
    """Re-rank `fused` by what its own head says the query is. For each attribute (name →
    (item id → value, weight)), each of the top `depth` items votes for its value (1/rank), and
    every item gains weight x (its value's share of the vote) x (the top fused score), so the
    bonus is on the list's own scale.

    A photo's nearest neighbours agree on what it shows far more often than any single one of
    them is like it: a shirt photo's list holds a few kurtas and tops, most of its head is
    shirts, and mostly of the photo's gender and colour. Items whose value is unknown gain
    nothing. An item that gains says so in its sources (`vote_source(name)`: its value's place
    in the vote and its share). Returns the list and the votes (name → value → share).
    """
    if not fused or depth < 1:
        return list(fused), {}
    scale = max(fused[0].score, 1e-9)
    bonus = {f.id: 0.0 for f in fused}
    srcs = {f.id: dict(f.sources) for f in fused}
    votes: dict[str, dict[str, float]] = {}
    for name, (values, weight) in attributes.items():
        if weight <= 0:
            continue
        tally = rank_tally([values.get(f.id) for f in fused[:depth]])
        total = sum(tally.values())
        if total <= 0:
            continue
        share = {v: t / total for v, t in sorted(tally.items(), key=lambda kv: -kv[1])}
        place = {v: i for i, v in enumerate(share, 1)}
        votes[name] = share
        for f in fused:
            v = values.get(f.id) or ""
            if v in share:
                bonus[f.id] += weight * scale * share[v]
                srcs[f.id][vote_source(name)] = (place[v], share[v])
    if not votes:
        return list(fused), {}
    return _ordered({f.id: f.score + bonus[f.id] for f in fused}, srcs), votes


def vote_source(attribute: str) -> str:
    """The source name under which `head_vote` explains an attribute's vote: photo_kind, ..."""
    return f"photo_{attribute}"


# The source name under which `head_vote` explains the kind it favoured (not an index list).
KIND_VOTE = vote_source("kind")


def kind_vote(fused: Sequence[Fused], kinds: Mapping[str, str | None], depth: int, weight: float) -> tuple[list[Fused], dict[str, float]]:
    """`head_vote` on the article type alone (`KIND_VOTE`); returns the list and the vote."""
    ranked, votes = head_vote(fused, {"kind": (kinds, weight)}, depth)
    return ranked, votes.get("kind", {})
