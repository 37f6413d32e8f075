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
