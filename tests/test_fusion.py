"""Fusion: pure functions, checked against hand-computed rankings."""

import numpy as np
import pytest

from assistant.retrieval.fusion import Ranked, dbsf, early_fuse, rrf, weighted


def lists():
    return {
        "bm25": [Ranked("a", 9.0), Ranked("b", 5.0), Ranked("c", 1.0)],
        "image": [Ranked("c", 0.9), Ranked("a", 0.8), Ranked("d", 0.1)],
    }


def test_rrf_sums_reciprocal_ranks_counted_from_zero_like_qdrant():
    fused = rrf(lists(), k=60)
    scores = {f.id: f.score for f in fused}
    assert scores["a"] == pytest.approx(1 / 60 + 1 / 61)
    assert scores["c"] == pytest.approx(1 / 62 + 1 / 60)
    assert scores["d"] == pytest.approx(1 / 62)
    assert [f.id for f in fused] == ["a", "c", "b", "d"]


def test_rrf_records_which_modalities_found_each_item():
    fused = {f.id: f for f in rrf(lists())}
    assert fused["a"].sources == {"bm25": (1, 9.0), "image": (2, 0.8)}
    assert fused["d"].sources == {"image": (3, 0.1)}


def test_rrf_weights_can_flip_the_order():
    assert rrf(lists(), k=1)[0].id == "a"
    assert rrf(lists(), k=1, weights={"bm25": 0.2, "image": 5.0})[0].id == "c"
    assert [f.id for f in rrf(lists(), k=60, weights={"bm25": 0.0, "image": 1.0})] == ["c", "a", "d"]


def test_weighted_rrf_follows_qdrants_formula():
    # 1 / ((position + 1) / weight + k - 1)
    fused = {f.id: f.score for f in rrf(lists(), k=60, weights={"bm25": 2.0, "image": 0.5})}
    assert fused["b"] == pytest.approx(1 / (2 / 2.0 + 59))
    assert fused["d"] == pytest.approx(1 / (3 / 0.5 + 59))


def test_rrf_rejects_k_below_one():
    with pytest.raises(ValueError):
        rrf(lists(), k=0)


def test_fusion_does_not_mutate_inputs():
    data = lists()
    before = {k: list(v) for k, v in data.items()}
    rrf(data)
    dbsf(data)
    weighted(data, {"bm25": 1, "image": 1})
    assert data == before


def test_dbsf_normalises_each_list_before_summing():
    # bm25 scores are ~10x the image scores; after normalisation neither list dominates.
    fused = dbsf(lists())
    ids = [f.id for f in fused]
    assert ids[0] in ("a", "c")
    assert set(ids) == {"a", "b", "c", "d"}
    assert all(0 <= f.score <= 2 for f in fused)


def test_weighted_zero_weight_ignores_a_list():
    fused = weighted(lists(), {"bm25": 0.0, "image": 1.0})
    assert [f.id for f in fused][:2] == ["c", "a"]


def test_ties_break_by_id_deterministically():
    fused = rrf({"x": [Ranked("b", 1.0)], "y": [Ranked("a", 1.0)]})
    assert [f.id for f in fused] == ["a", "b"]


def test_early_fuse_is_unit_length_and_between_inputs():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    v = early_fuse([a, b], [0.5, 0.5])
    assert np.linalg.norm(v) == pytest.approx(1.0)
    assert v[0] == pytest.approx(v[1])
    assert early_fuse([a, b], [1.0, 0.0]) == pytest.approx(np.array([1.0, 0.0]))


def test_early_fuse_rejects_mismatched_weights_and_cancellation():
    with pytest.raises(ValueError):
        early_fuse([np.ones(2)], [0.5, 0.5])
    with pytest.raises(ValueError):
        early_fuse([np.array([1.0, 0.0]), np.array([-1.0, 0.0])], [1.0, 1.0])
