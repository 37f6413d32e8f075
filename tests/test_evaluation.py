"""Retrieval metrics on hand-made rankings, and the query set file format."""

import json
import math

import pytest

from assistant.errors import QueryError
from assistant.evaluation import load_query_set, mrr, ndcg_at_k, recall_at_k


def test_ndcg_is_one_for_the_ideal_order_and_less_otherwise():
    rel = {"a": 2, "b": 1}
    assert ndcg_at_k(["a", "b", "x"], rel) == pytest.approx(1.0)
    worse = ndcg_at_k(["b", "a", "x"], rel)
    assert 0 < worse < 1
    # DCG by hand: (2^1-1)/log2(2) + (2^2-1)/log2(3) over the ideal 3/1 + 1/log2(3)
    assert worse == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))
    assert ndcg_at_k(["x", "y"], rel) == 0.0


def test_recall_is_capped_by_what_fits_in_k():
    rel = {str(i): 1 for i in range(100)}
    assert recall_at_k([str(i) for i in range(10)], rel, 10) == 1.0
    assert recall_at_k(["0", "x"], {"0": 1, "1": 1}, 10) == 0.5


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant():
    assert mrr(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3)
    assert mrr(["x"], {"a": 1}) == 0.0


def test_query_set_file(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text(
        json.dumps({"id": "1", "text": "red shoes", "relevant": {"10": 2}})
        + "\n"
        + json.dumps({"image": "p.jpg", "filters": {"exclude_product_ids": ["7"]}, "article_type": "Watches"})
        + "\n"
    )
    qs = load_query_set(f)
    assert qs[0].kind == "text" and qs[0].relevant == {"10": 2}
    assert qs[1].kind == "photo" and qs[1].image == tmp_path / "p.jpg" and qs[1].filters.exclude_product_ids == ["7"]
    f.write_text("{oops\n")
    with pytest.raises(QueryError, match="invalid JSON"):
        load_query_set(f)
