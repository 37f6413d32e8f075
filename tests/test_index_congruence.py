"""The embedded engine (Qdrant Edge) and the server engine (qdrant-client) agree.

qdrant-client's in-process `:memory:` mode stands in for a server here. The same points and
the same requests go to both; exact searches must return identical rankings, and fusion
computed in the engine must equal the project's own pure-function fusion.
"""

from __future__ import annotations

import uuid
import warnings

import numpy as np
import pytest
from qdrant_client import QdrantClient

from assistant.encoders.sparse import Bm25Encoder
from assistant.errors import CollectionNotFound
from assistant.index.base import Filters, Fusion, IndexPoint, VectorQuery
from assistant.index.edge import EdgeIndex
from assistant.index.remote import RemoteIndex
from assistant.index.schema import BM25, CLIP_TEXT, FUSED, IMAGE, TEXT, VectorDims
from assistant.retrieval import fusion as fz

# qdrant-client's local mode warns that search params and payload indexes do nothing there.
pytestmark = pytest.mark.filterwarnings("ignore:Local mode:UserWarning", "ignore:Payload indexes:UserWarning")

COLOURS = ["black", "red", "navy blue", "white"]
TYPES = ["shoes", "watches", "tshirts"]
WORDS = ["running", "leather", "classic", "sport", "slim", "casual", "analog", "cotton"]
N = 120


def _points() -> list[IndexPoint]:
    rng = np.random.default_rng(7)
    bm25 = Bm25Encoder()
    pts = []
    for i in range(N):
        colour, typ = COLOURS[i % 4], TYPES[i % 3]
        text = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {colour} {typ}"
        vec = {
            CLIP_TEXT: rng.normal(size=8).tolist(),
            FUSED: rng.normal(size=8).tolist(),
            TEXT: rng.normal(size=6).tolist(),
            BM25: bm25.encode_documents([text])[0],
        }
        if i % 2 == 0:
            vec[IMAGE] = rng.normal(size=8).tolist()
        payload = {
            "product_id": str(i),
            "name": text,
            "colour_key": colour,
            "category_key": ["apparel", typ],
            "brand_key": ["nike", "puma", "adidas"][i % 3],
            "price": float(i % 50),
            "has_image": i % 2 == 0,
        }
        pts.append(IndexPoint(str(uuid.uuid5(uuid.NAMESPACE_OID, str(i))), vec, payload))
    return pts


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    edge = EdgeIndex(tmp_path_factory.mktemp("edge"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # local mode warns that payload indexes are no-ops
        remote = RemoteIndex(QdrantClient(location=":memory:"))
        for ix in (edge, remote):
            ix.create_collection("c", VectorDims(clip=8, text=6))
            pts = _points()
            for i in range(0, len(pts), 50):
                ix.upsert("c", pts[i : i + 50])
    yield edge, remote
    edge.close()


def _ids(hits):
    return [h.id for h in hits]


QUERY_RNG = np.random.default_rng(11)
DENSE = {name: QUERY_RNG.normal(size=6 if name == TEXT else 8).tolist() for name in (IMAGE, CLIP_TEXT, FUSED, TEXT)}
FILTERS = [
    None,
    Filters(colour=["Black"]),
    Filters(colour=["red", "navy blue"], category=["shoes"]),
    Filters(price_min=10, price_max=20),
    Filters(exclude_brand=["nike"], has_image=True),
]


@pytest.mark.parametrize("using", [IMAGE, CLIP_TEXT, FUSED, TEXT])
@pytest.mark.parametrize("flt", FILTERS)
def test_exact_dense_search_is_identical(engines, using, flt):
    edge, remote = engines
    q = [VectorQuery(using, DENSE[using], 20)]
    a = edge.query("c", q, None, flt, 10, exact=True)
    b = remote.query("c", q, None, flt, 10, exact=True)
    assert _ids(a) == _ids(b)
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)


@pytest.mark.parametrize("flt", FILTERS)
def test_sparse_bm25_search_is_identical(engines, flt):
    edge, remote = engines
    q = [VectorQuery(BM25, Bm25Encoder().encode_query("black running shoes"), 30)]
    a = edge.query("c", q, None, flt, 10)
    b = remote.query("c", q, None, flt, 10)
    assert a, "the query terms occur in the data"
    assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-4)
    # Points tied at the cut-off score may be cut differently; all above it must agree.
    cut = a[-1].score + 1e-4
    assert {h.id for h in a if h.score > cut} == {h.id for h in b if h.score > cut}


@pytest.mark.parametrize("flt", FILTERS[:3])
def test_dense_rrf_is_identical_across_engines(engines, flt):
    edge, remote = engines
    prefetch = [VectorQuery(IMAGE, DENSE[IMAGE], 30), VectorQuery(TEXT, DENSE[TEXT], 30), VectorQuery(FUSED, DENSE[FUSED], 30)]
    a = edge.query("c", prefetch, Fusion("rrf", k=60), flt, 10, exact=True)
    b = remote.query("c", prefetch, Fusion("rrf", k=60), flt, 10, exact=True)
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-7)


@pytest.mark.parametrize("flt", FILTERS[:3])
@pytest.mark.parametrize("weights", [None, (2.0, 1.0, 0.5)])
def test_engine_rrf_equals_the_pure_function(engines, flt, weights):
    # With BM25 in the mix, tied term scores may be ordered differently by the two engines,
    # so each engine is checked against the pure function applied to its own lists.
    prefetch = [
        VectorQuery(BM25, Bm25Encoder().encode_query("classic leather watches"), 30),
        VectorQuery(IMAGE, DENSE[IMAGE], 30),
        VectorQuery(TEXT, DENSE[TEXT], 30),
    ]
    for ix in engines:
        fused = ix.query("c", prefetch, Fusion("rrf", k=60, weights=weights), flt, 10, exact=True)
        lists = {q.using: [fz.Ranked(h.id, h.score) for h in ix.query("c", [q], None, flt, q.limit, exact=True)] for q in prefetch}
        w = dict(zip((q.using for q in prefetch), weights, strict=True)) if weights else None
        local = fz.rrf(lists, k=60, weights=w)[:10]
        assert [f.score for f in local] == pytest.approx([h.score for h in fused], abs=1e-6)
        assert [f.id for f in local] == [h.id for h in fused]


def test_facets_and_counts_agree(engines):
    edge, remote = engines
    for flt in FILTERS:
        assert edge.count("c", flt) == remote.count("c", flt)
        fa = {(f.value, f.count) for f in edge.facet("c", "colour_key", flt)}
        fb = {(f.value, f.count) for f in remote.facet("c", "colour_key", flt)}
        assert fa == fb
    assert edge.count("c") == N
    assert {f.value for f in edge.facet("c", "category_key")} == {"apparel", *TYPES}


def test_scroll_and_retrieve_agree(engines):
    edge, remote = engines
    seen_a, off = [], None
    while True:
        page, off = edge.scroll("c", Filters(colour=["red"]), 7, off)
        seen_a += _ids(page)
        if off is None:
            break
    page_b, _ = remote.scroll("c", Filters(colour=["red"]), 1000)
    assert sorted(seen_a) == sorted(_ids(page_b)) and len(seen_a) == N // 4
    ids = [_points()[3].id, str(uuid.uuid4())]
    assert _ids(edge.retrieve("c", ids)) == _ids(remote.retrieve("c", ids)) == [ids[0]]


def test_upsert_is_idempotent_and_delete_removes(tmp_path):
    ix = EdgeIndex(tmp_path)
    ix.create_collection("c", VectorDims(clip=8, text=6))
    pts = _points()[:10]
    ix.upsert("c", pts)
    ix.upsert("c", pts)
    assert ix.count("c") == 10
    ix.delete("c", [pts[0].id])
    assert ix.count("c") == 9
    ix.close()
    reopened = EdgeIndex(tmp_path)
    assert reopened.count("c") == 9, "points survive closing and reopening"
    reopened.close()


def test_unknown_collection_is_a_typed_error(engines, tmp_path):
    edge, remote = engines
    with pytest.raises(CollectionNotFound, match="nope"):
        edge.count("nope")
    with pytest.raises(CollectionNotFound, match="nope"):
        remote.count("nope")
