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


# -- the head's vote on a photo's kind ----------------------------------------------------


def _photo_list():
    from assistant.retrieval.fusion import Fused

    # a shirt photo: a kurta scores best, but the head is mostly shirts
    scores = [("k1", 1.0), ("s1", 0.97), ("s2", 0.95), ("s3", 0.94), ("t1", 0.93), ("s4", 0.9), ("s5", 0.5)]
    kinds = {"k1": "Kurtas", "s1": "Shirts", "s2": "Shirts", "s3": "Shirts", "s4": "Shirts", "s5": "Shirts", "t1": "Tops", "x": None}
    return [Fused(i, s, {"fused": (n, s)}) for n, (i, s) in enumerate(scores, 1)], kinds


def test_kind_vote_lifts_the_heads_majority_kind_over_a_lone_better_scored_item():
    from assistant.retrieval.fusion import KIND_VOTE, kind_vote

    fused, kinds = _photo_list()
    ranked, vote = kind_vote(fused, kinds, depth=6, weight=1.0)
    assert max(vote, key=vote.get) == "Shirts"
    assert abs(sum(vote.values()) - 1) < 1e-9
    order = [f.id for f in ranked]
    assert order[:3] == ["s1", "s2", "s3"] and order.index("k1") < order.index("t1")
    assert ranked[0].sources[KIND_VOTE] == (1, vote["Shirts"])  # explained: the leading kind, its share
    assert ranked[0].sources["fused"] == (2, 0.97)  # the list's own evidence kept


def test_kind_vote_off_or_without_kinds_leaves_the_list_as_it_was():
    from assistant.retrieval.fusion import Fused, kind_vote

    fused, kinds = _photo_list()
    assert kind_vote(fused, kinds, depth=5, weight=0.0) == (fused, {})
    assert kind_vote(fused, {}, depth=5, weight=0.5) == (fused, {})
    unknown = [Fused("x", 1.0, {}), *fused[1:]]
    ranked, vote = kind_vote(unknown, kinds, depth=3, weight=0.5)
    assert "photo_kind" not in next(f for f in ranked if f.id == "x").sources and None not in vote


def test_head_vote_on_several_attributes_explains_each_and_a_filtered_attribute_is_not_voted():
    from assistant.index.base import Filters
    from assistant.retrieval.fusion import Fused, head_vote, vote_source
    from assistant.retrieval.search import FusionConfig, Retriever

    # a men's blue shirt photo: the best single match is a women's blue top
    rows = [("w1", 1.0, "Tops", "Women", "Blue"), ("m1", 0.96, "Shirts", "Men", "Blue"), ("m2", 0.95, "Shirts", "Men", "White")]
    rows += [("m3", 0.94, "Shirts", "Men", "Blue"), ("m4", 0.93, "Shirts", "Women", "Blue"), ("m5", 0.92, "Shirts", "Men", "Blue")]
    fused = [Fused(i, s, {}) for i, s, *_ in rows]
    payloads = {i: {"category_path": ["Apparel", t], "gender": g, "colour": c} for i, _, t, g, c in rows}
    values = {"kind": {i: t for i, _, t, _, _ in rows}, "gender": {i: g for i, _, _, g, _ in rows}, "colour": {i: c for i, *_, c in rows}}
    ranked, votes = head_vote(fused, {n: (values[n], 1.0) for n in values}, depth=6)
    assert [f.id for f in ranked][:3] == ["m1", "m3", "m5"]  # shirts, for men, in blue
    assert set(votes) == {"kind", "gender", "colour"} and ranked[0].sources[vote_source("gender")][0] == 1

    r = Retriever(None, "kagl", None, None, None, config=FusionConfig(photo_votes={"kind": 1.0, "gender": 1.0, "colour": 1.0}))  # type: ignore[arg-type]
    # "like this but in white": the words set the colour, so the photo's blue gets no vote
    chosen = r._vote(fused, payloads, Filters(colour=["White"]))
    assert all(vote_source("colour") not in f.sources for f in chosen)
    assert vote_source("kind") in chosen[0].sources and vote_source("gender") in chosen[0].sources
    off = Retriever(None, "kagl", None, None, None, config=FusionConfig(photo_votes={}))  # type: ignore[arg-type]
    assert off._vote(fused, payloads, Filters()) == fused
