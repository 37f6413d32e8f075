"""The catalogue's lifecycle in the index: changed rows re-encoded, price and stock changes
written without encoding, products no longer sold removed; on the embedded engine and through
qdrant-client (its in-process mode standing in for a server)."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient

from assistant.catalogue.loader import Catalogue, load_catalogue
from assistant.catalogue.schema import point_id
from assistant.config import Settings
from assistant.index.base import Filters
from assistant.index.edge import EdgeIndex
from assistant.index.remote import RemoteIndex
from assistant.ingest import ingest_catalogue
from assistant.runtime import load_encoders
from tests.kagl_subset import write_subset

pytestmark = [pytest.mark.model, pytest.mark.filterwarnings("ignore:Local mode:UserWarning", "ignore:Payload indexes:UserWarning")]


@pytest.fixture(scope="module")
def encoders():
    return load_encoders(Settings())


@pytest.fixture(params=["edge", "qdrant-client"])
def index(request, tmp_path):
    idx = EdgeIndex(tmp_path / "index") if request.param == "edge" else RemoteIndex(QdrantClient(location=":memory:"))
    yield idx
    idx.close()


def test_prices_and_stock_change_without_encoding_and_gone_products_are_removed(index, encoders, tmp_path, kagl_csv):
    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=2)
    cat = load_catalogue(csv_path)
    first = ingest_catalogue(cat, index, "kagl", encoders, "test", progress=False)
    assert first.indexed == len(cat.products)

    priced, renamed, gone = cat.products[0], cat.products[1], cat.products[2]
    products = [p for p in cat.products if p.id != gone.id]
    products[0] = priced.model_copy(update={"price": 9.5, "currency": "EUR", "in_stock": False})
    products[1] = renamed.model_copy(update={"name": renamed.name + " Limited Edition"})
    second = ingest_catalogue(Catalogue(cat.source, cat.mapping, products), index, "kagl", encoders, "test", progress=False, prune=True)

    assert (second.payload_updated, second.indexed, second.removed) == (1, 1, 1), second.summary()
    assert second.unchanged == len(products) - 2
    (hit,) = index.retrieve("kagl", [point_id("kagl", priced.id)])
    assert hit.payload["price"] == 9.5 and hit.payload["in_stock"] is False
    assert index.count("kagl", Filters(price_max=10.0)) == 1 and index.count("kagl", Filters(in_stock=False)) == 1
    assert hit.payload["has_image"] == (priced.image is not None), "what ingest derived from the photo stays"
    (named,) = index.retrieve("kagl", [point_id("kagl", renamed.id)])
    assert named.payload["name"].endswith("Limited Edition")
    assert index.retrieve("kagl", [point_id("kagl", gone.id)]) == []
    assert index.count("kagl") == len(products)

    third = ingest_catalogue(Catalogue(cat.source, cat.mapping, products), index, "kagl", encoders, "test", progress=False, prune=True)
    assert (third.unchanged, third.indexed, third.payload_updated, third.removed) == (len(products), 0, 0, 0), "a re-run changes nothing"


def _text_query(index, name: str, encoders, words: str = "black watch") -> list[str]:
    from assistant.index.base import VectorQuery
    from assistant.index.schema import TEXT

    vec = encoders.text.encode_text([words])[0].tolist()
    return [h.payload["product_id"] for h in index.query(name, [VectorQuery(TEXT, vec, 5)], None, None, 5)]


def test_a_reindex_switches_the_served_name_while_queries_keep_answering(index, encoders, tmp_path, kagl_csv):
    import threading

    from assistant.reindex import reindex_catalogue

    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=2)
    cat = load_catalogue(csv_path)
    first = reindex_catalogue(cat, index, "kagl", encoders, "test", progress=False, optimize=False)
    assert first.previous is None and index.alias_target("kagl") == first.collection
    served = _text_query(index, "kagl", encoders)
    assert served, "the alias answers queries"

    failures: list[BaseException] = []
    answered = [0]
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                assert _text_query(index, "kagl", encoders)
                answered[0] += 1
            except BaseException as e:  # noqa: BLE001 - every failure is counted, none may happen
                failures.append(e)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        renamed = [p.model_copy(update={"name": p.name + " Edition"}) if i == 0 else p for i, p in enumerate(cat.products)]
        second = reindex_catalogue(Catalogue(cat.source, cat.mapping, renamed), index, "kagl", encoders, "test", progress=False,
                                   optimize=False, collection_name="kagl-second")  # fmt: skip
    finally:
        stop.set()
        asker.join(60)
    assert not failures, f"{len(failures)} queries failed during the reindex, e.g. {failures[:1]}"
    assert answered[0] > 0
    assert second.previous == first.collection and second.dropped and not index.collection_exists(first.collection)
    assert index.alias_target("kagl") == "kagl-second" and index.count("kagl") == len(cat.products)
    (hit,) = index.retrieve("kagl", [point_id("kagl", renamed[0].id)])
    assert hit.payload["name"].endswith(" Edition"), "ids follow the served name: a product keeps its id across the switch"


def test_a_switch_by_another_process_is_seen_at_the_next_query(tmp_path, encoders, kagl_csv):
    from assistant.reindex import reindex_catalogue

    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=1)
    cat = load_catalogue(csv_path)
    server = EdgeIndex(tmp_path / "index")  # the serving process's view of the folder
    other = EdgeIndex(tmp_path / "index")  # `shop-assistant reindex` in another process
    try:
        reindex_catalogue(cat, other, "kagl", encoders, "test", progress=False, optimize=False, collection_name="kagl-a")
        assert server.count("kagl") == len(cat.products)
        fewer = Catalogue(cat.source, cat.mapping, cat.products[:3])
        reindex_catalogue(fewer, other, "kagl", encoders, "test", progress=False, optimize=False, collection_name="kagl-b", keep_old=True)
        assert server.count("kagl") == 3, "the server opened the new collection at its next query"
    finally:
        server.close()
        other.close()


def test_a_server_collection_named_like_the_alias_is_refused_before_any_encoding(encoders, tmp_path, kagl_csv):
    from assistant.errors import ConfigError
    from assistant.index.schema import VectorDims
    from assistant.reindex import reindex_catalogue

    remote = RemoteIndex(QdrantClient(location=":memory:"))
    remote.create_collection("kagl", VectorDims(clip=encoders.clip.dim, text=encoders.text.dim))
    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=1)
    with pytest.raises(ConfigError, match="not an alias"):
        reindex_catalogue(load_catalogue(csv_path), remote, "kagl", encoders, "test", progress=False)
    assert remote.list_collections() == ["kagl"], "nothing was built"


def test_deleting_a_served_alias_is_refused(index, encoders, tmp_path, kagl_csv):
    from assistant.errors import ConfigError
    from assistant.reindex import reindex_catalogue

    csv_path, _ = write_subset(kagl_csv, tmp_path / "subset.csv", per_type=1)
    report = reindex_catalogue(load_catalogue(csv_path), index, "kagl", encoders, "test", progress=False, optimize=False)
    with pytest.raises(ConfigError, match="alias"):
        index.delete_collection("kagl")  # `ingest --recreate` on the served name: it would not recreate anything
    with pytest.raises(ConfigError, match="alias points at"):
        index.delete_collection(report.collection)
    assert index.count("kagl") > 0
