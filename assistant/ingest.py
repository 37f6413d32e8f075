"""Ingest: a loaded catalogue → encoded points upserted into the index.

Idempotent and resumable: a point's id derives from its product id, and its payload keeps
a hash of everything its vectors and payload were made from (`content_hash`). Each batch
first asks the index which of its products are already there with that same hash and skips
them, so re-running after a crash (or on an unchanged catalogue) encodes only what is
missing or changed, and never duplicates. The engine's write-ahead log makes every
finished batch durable.

A second hash covers only what the vectors are made from (`vector_hash`: the texts the
encoders read, the photo, the models): a product whose price, stock or other payload changed
but whose vectors would not gets its payload replaced without being encoded again. With
`prune`, points of products no longer in the catalogue are removed.

A bad image never stops the ingest: the product is indexed by its text, without an
`image` vector, and the image is reported as an issue.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.catalogue.loader import Catalogue, RowIssue
from assistant.catalogue.schema import Product, point_id
from assistant.encoders.base import l2_normalise
from assistant.encoders.images import load_image
from assistant.errors import ImageError
from assistant.index.base import IndexPoint, ProductIndex, Vector
from assistant.index.schema import BM25, CLIP_TEXT, FUSED, IMAGE, TEXT, VectorDims, key, product_payload
from assistant.runtime import Encoders

INGEST_VERSION = 1  # bump when the point layout changes, so every point is rewritten


@dataclass
class IngestReport:
    """What an ingest did; printed as its summary."""

    collection: str
    products_read: int = 0
    rows_rejected: int = 0
    indexed: int = 0
    unchanged: int = 0
    payload_updated: int = 0  # payload replaced, vectors kept (price, stock...)
    removed: int = 0  # pruned: no longer in the catalogue
    images_indexed: int = 0
    images_bad: int = 0
    attributes_predicted: int = 0
    seconds: float = 0.0
    issues: list[RowIssue] = field(default_factory=list)

    def summary(self) -> str:
        rate = (self.indexed / self.seconds) if self.seconds else 0.0
        return (
            f"collection {self.collection!r}: {self.products_read} products read, {self.indexed} indexed "
            f"({rate:.0f}/s), {self.unchanged} unchanged, {self.payload_updated} payload-only updates, {self.removed} removed, "
            f"{self.images_indexed} photos encoded, "
            f"{self.images_bad} bad photos (indexed by text), {self.attributes_predicted} missing attributes predicted, "
            f"{self.rows_rejected} rows rejected, "
            f"{self.seconds:.1f} s"
        )


def _image_signature(p: Product) -> object:
    if p.image is None:
        return None
    try:
        st = p.image.stat()
        return [st.st_size, int(st.st_mtime)]
    except OSError:
        return "missing"


def content_hash(p: Product, model_tag: str) -> str:
    """Hash of the product's fields, its photo file's size and mtime, and the encoder models."""
    blob = json.dumps([INGEST_VERSION, model_tag, p.model_dump(mode="json"), _image_signature(p)], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()


def vector_hash(p: Product, model_tag: str) -> str:
    """Hash of what the product's vectors (and predicted attributes) are made from: its caption,
    its searchable text, its photo and the models. Equal hashes: the vectors would not change."""
    missing = _missing(p)  # what the classifier fills in depends on which fields are empty
    blob = json.dumps([INGEST_VERSION, model_tag, p.clip_caption(), p.full_text(), p.name, missing, _image_signature(p)], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()


def ingest_catalogue(
    catalogue: Catalogue,
    index: ProductIndex,
    collection_name: str,
    encoders: Encoders,
    model_tag: str,
    batch_size: int = 64,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
    prune: bool = False,
    id_namespace: str | None = None,
) -> IngestReport:
    """Encode and upsert every product (or only replace the payload of those whose vectors would
    not change); with `prune`, remove the products no longer in the catalogue. Returns the
    report (bad rows/images included). `id_namespace`: the name point ids are made from
    (default: the collection's); a reindex builds a new collection under the served name's ids,
    so a product keeps its point id across the switch."""
    from tqdm import tqdm

    t0 = time.time()
    report = IngestReport(collection_name, products_read=len(catalogue.products), rows_rejected=len(catalogue.issues))
    report.issues.extend(catalogue.issues)
    index.create_collection(collection_name, VectorDims(clip=encoders.clip.dim, text=encoders.text.dim))
    products = catalogue.products
    bar = tqdm(total=len(products), desc="ingest", unit="product", disable=not progress, smoothing=0.1)
    for b, start in enumerate(range(0, len(products), batch_size)):
        batch = products[start : start + batch_size]
        ids = [point_id(id_namespace or collection_name, p.id) for p in batch]
        hashes = [content_hash(p, model_tag) for p in batch]
        existing = {h.id: h.payload for h in index.retrieve(collection_name, ids)}
        todo, payloads = [], {}
        for p, pid, h in zip(batch, ids, hashes, strict=True):
            old = existing.get(pid)
            if old is not None and old.get("content_hash") == h:
                report.unchanged += 1
                continue
            vh = vector_hash(p, model_tag)
            if old is not None and old.get("vector_hash") == vh:
                payloads[pid] = _kept_payload(p, old, h, vh)
            else:
                todo.append((p, pid, h, vh))
        if payloads:
            index.overwrite_payloads(collection_name, payloads)
            report.payload_updated += len(payloads)
        if todo:
            report.indexed += _encode_and_upsert(todo, index, collection_name, encoders, report)
        bar.update(len(batch))
        if on_batch is not None:
            on_batch(b)
    bar.close()
    if prune:
        report.removed = _prune(index, collection_name, {point_id(id_namespace or collection_name, p.id) for p in products})
    index.flush(collection_name)
    report.seconds = time.time() - t0
    return report


def _kept_payload(p: Product, old: dict[str, object], h: str, vh: str) -> dict[str, object]:
    """The new payload of a product whose vectors stay: its fields now, with what ingest derived
    from the vectors' inputs kept (the photo's presence, predicted attributes and their filters)."""
    derived = {k: old[k] for k in ("has_image", "predicted") if k in old}
    predicted = old.get("predicted")
    if isinstance(predicted, dict):
        for target in predicted:
            field_key = _PAYLOAD_FIELD.get(target)
            if field_key and field_key in old:
                derived[field_key] = old[field_key]
                if target == "article_type" and "category_key" in old:
                    derived["category_key"] = old["category_key"]
    return product_payload(p, {"content_hash": h, "vector_hash": vh, **derived})


def _prune(index: ProductIndex, collection_name: str, keep: set[str]) -> int:
    """Delete the points not in `keep`; how many."""
    stale: list[str] = []
    offset: str | None = None
    while True:
        hits, offset = index.scroll(collection_name, None, limit=1000, offset=offset)
        stale += [h.id for h in hits if h.id not in keep]
        if offset is None:
            break
    for start in range(0, len(stale), 1000):
        index.delete(collection_name, stale[start : start + 1000])
    return len(stale)


def _encode_and_upsert(
    todo: list[tuple[Product, str, str, str]],
    index: ProductIndex,
    collection_name: str,
    enc: Encoders,
    report: IngestReport,
) -> int:
    """Encode and upsert (product, point id, content hash, vector hash) rows; how many."""
    products = [p for p, _, _, _ in todo]
    captions = enc.clip.encode_text([p.clip_caption() for p in products])
    texts = enc.text.encode_text([p.full_text() for p in products])
    sparse = enc.sparse.encode_documents([p.full_text() for p in products])
    images: dict[int, np.ndarray] = {}
    loaded, where = [], []
    for i, p in enumerate(products):
        if p.image is None:
            continue
        try:
            loaded.append(load_image(p.image))
            where.append(i)
        except ImageError as e:
            report.images_bad += 1
            report.issues.append(RowIssue(0, p.id, f"image skipped, indexed by text: {e.message}"))
    if loaded:
        for i, v in zip(where, enc.clip.encode_image(loaded), strict=True):
            images[i] = v
    report.images_indexed += len(images)
    predicted = _predict_missing(products, images, enc, report)
    points = []
    for i, (p, pid, h, vh) in enumerate(todo):
        vectors: dict[str, Vector] = {CLIP_TEXT: captions[i].tolist(), TEXT: texts[i].tolist()}
        if sparse[i].indices:
            vectors[BM25] = sparse[i]
        if i in images:
            vectors[IMAGE] = images[i].tolist()
            vectors[FUSED] = l2_normalise(images[i] + captions[i]).tolist()
        else:
            vectors[FUSED] = captions[i].tolist()
        payload = product_payload(p, {"content_hash": h, "vector_hash": vh, "has_image": i in images, **predicted.get(i, {})})
        points.append(IndexPoint(pid, vectors, payload))
    index.upsert(collection_name, points)
    return len(points)


PREDICTION_THRESHOLD = 0.5  # below this a predicted attribute is kept for display, not for filters
_PAYLOAD_FIELD = {"article_type": "article_type_key", "colour": "colour_key", "gender": "gender_key"}


def _missing(p: Product) -> list[str]:
    return [t for t, v in (("article_type", p.category), ("colour", p.colour), ("gender", p.gender)) if not v]


def _predict_missing(products: list[Product], images: dict[int, np.ndarray], enc: Encoders, report: IngestReport) -> dict[int, dict[str, object]]:
    """Payload additions for products with a missing article type, colour or gender.

    `predicted` records each guess with its confidence; confident guesses also fill the
    filter field, so "black shoes" finds an uncategorised black shoe.
    """
    if enc.classifier is None:
        return {}
    need = [i for i, p in enumerate(products) if _missing(p)]
    if not need:
        return {}
    titles = enc.clip.encode_text([products[i].name for i in need])
    out: dict[int, dict[str, object]] = {}
    for i, title in zip(need, titles, strict=True):
        guesses = enc.classifier.predict(images.get(i), title)
        extra: dict[str, object] = {"predicted": {}}
        for target in _missing(products[i]):
            label, conf = guesses[target]
            extra["predicted"][target] = {"value": label, "confidence": round(conf, 4)}  # type: ignore[index]
            report.attributes_predicted += 1
            if conf >= PREDICTION_THRESHOLD:
                extra[_PAYLOAD_FIELD[target]] = key(label)
                if target == "article_type":
                    extra["category_key"] = [*(key(c) for c in products[i].category_path), key(label)]
        out[i] = extra
    return out
