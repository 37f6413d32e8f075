"""The embedded engine: Qdrant Edge (`qdrant_edge.EdgeShard`), on disk, in this process.

One shard folder per collection under the index root. Owns translating the project's
requests into the edge API. A shard folder may be opened by one process at a time: the
server opens it once and serves every socket from it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from assistant.errors import CollectionNotFound, ConfigError, IndexUnavailable
from assistant.index.base import (
    Condition,
    FacetCount,
    Filters,
    Fusion,
    IndexHit,
    IndexPoint,
    SparseVec,
    VectorQuery,
    conditions,
)
from assistant.index.schema import BM25, CLIP_TEXT, FUSED, IMAGE, PAYLOAD_INDEXES, TEXT, VectorDims, VectorStorage

_SCHEMA_TYPES = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "float": qe.PayloadSchemaType.Float,
}


def _condition(c: Condition) -> Any:
    if c.any is not None:
        return qe.FieldCondition(key=c.key, match=qe.MatchAny(any=list(c.any)))
    if c.has_vector is not None:
        return qe.HasVectorCondition(c.has_vector)
    return qe.FieldCondition(key=c.key, range=qe.RangeFloat(gte=c.gte, lte=c.lte))


def to_edge_filter(filters: Filters | None) -> qe.Filter | None:
    if filters is None:
        return None
    conds = conditions(filters)
    if not conds:
        return None
    must = [_condition(c) for c in conds if not c.negate]
    must_not = [_condition(c) for c in conds if c.negate]
    return qe.Filter(must=must or None, must_not=must_not or None)


def _vector(v: list[float] | SparseVec) -> Any:
    return qe.SparseVector(indices=v.indices, values=v.values) if isinstance(v, SparseVec) else v


def _fusion(f: Fusion) -> Any:
    if f.method == "dbsf":
        return qe.Fusion.Dbsf()
    return qe.Fusion.Rrf(k=f.k, weights=list(f.weights) if f.weights else None)


def _hit(p: Any) -> IndexHit:
    return IndexHit(id=str(p.id), score=float(getattr(p, "score", 0.0) or 0.0), payload=dict(p.payload or {}))


ALIASES = "aliases.json"  # alias → collection, under the index root


class EdgeIndex:
    """`ProductIndex` on Qdrant Edge shards under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._shards: dict[str, qe.EdgeShard] = {}
        self._lock = threading.Lock()  # opening/creating shards; queries run concurrently
        self._alias_cache: tuple[int, dict[str, str]] = (-1, {})  # (aliases.json's mtime, its mapping)

    def _path(self, collection_name: str) -> Path:
        return self.root / collection_name

    # -- aliases: a name that points at a collection, switched in one step -----------------
    # Kept in `aliases.json` under the root, replaced atomically, and read again whenever the
    # file changes, so a server opens the new collection at its next query after another
    # process (`shop-assistant reindex`) switched the name. An alias hides a folder of its name.

    def _aliases(self) -> dict[str, str]:
        try:
            stamp = (self.root / ALIASES).stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._alias_cache[0] != stamp:
            self._alias_cache = (stamp, json.loads((self.root / ALIASES).read_text()))
        return self._alias_cache[1]

    def resolve(self, collection_name: str) -> str:
        """The collection a name means: its alias's target, or itself."""
        return self._aliases().get(collection_name, collection_name)

    def alias_target(self, alias: str) -> str | None:
        return self._aliases().get(alias)

    def alias_problem(self, alias: str) -> str | None:
        return None  # any name may become an alias here (it hides a folder of its name)

    def switch_alias(self, alias: str, collection_name: str) -> None:
        if alias == collection_name or collection_name in self._aliases():
            raise ConfigError(f"an alias must point at a collection: {collection_name!r} is {'itself' if alias == collection_name else 'an alias'}")
        if not self.collection_exists(collection_name):
            raise CollectionNotFound(f"collection {collection_name!r} not found in {self.root}")
        aliases = {**self._aliases(), alias: collection_name}
        partial = self.root / f".{ALIASES}.{uuid.uuid4().hex[:8]}"
        with partial.open("w") as f:
            json.dump(aliases, f)
            f.flush()
            os.fsync(f.fileno())
        partial.replace(self.root / ALIASES)  # one rename: readers see the old mapping or the new

    def collection_exists(self, collection_name: str) -> bool:
        return self._exists(self.resolve(collection_name))

    def _exists(self, real: str) -> bool:
        """Whether the collection folder `real` (a name already resolved) holds a shard."""
        return real in self._shards or (self._path(real) / "edge_config.json").exists() or any(self._path(real).glob("segments"))

    def _shard(self, collection_name: str) -> qe.EdgeShard:
        real = self.resolve(collection_name)
        with self._lock:
            shard = self._shards.get(real)
            if shard is not None:
                return shard
            if not self._exists(real):
                raise CollectionNotFound(
                    f"collection {collection_name!r} not found in {self.root}; "
                    f"existing: {self.list_collections() or 'none'} (run `shop-assistant ingest` first)"
                )
            try:
                shard = qe.EdgeShard.load(str(self._path(real)))
            except Exception as e:  # the engine raises plain exceptions, e.g. for a locked folder
                raise IndexUnavailable(f"cannot open index {self._path(real)}: {e}") from e
            self._shards[real] = shard
            return shard

    def list_collections(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / "segments").exists())

    def create_collection(self, collection_name: str, dims: VectorDims, storage: VectorStorage | None = None) -> None:
        if self.collection_exists(collection_name):
            self._shard(collection_name)
            return
        storage = storage or VectorStorage()
        quantization = {
            "none": None,
            "scalar": qe.ScalarQuantizationConfig(qe.ScalarType.Int8, always_ram=True),
            "binary": qe.BinaryQuantizationConfig(always_ram=True),
        }[storage.quantization]

        def params(size: int) -> qe.EdgeVectorParams:
            return qe.EdgeVectorParams(size=size, distance=qe.Distance.Cosine, on_disk=storage.on_disk or None, quantization_config=quantization)

        config = qe.EdgeConfig(
            vectors={IMAGE: params(dims.clip), CLIP_TEXT: params(dims.clip), FUSED: params(dims.clip), TEXT: params(dims.text)},
            sparse_vectors={BM25: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        path = self._path(collection_name)
        path.mkdir(parents=True, exist_ok=True)
        with self._lock:
            shard = qe.EdgeShard.create(str(path), config)
            for field, kind in PAYLOAD_INDEXES.items():
                shard.update(qe.UpdateOperation.create_field_index(field, _SCHEMA_TYPES[kind]))
            shard.flush()
            self._shards[collection_name] = shard

    def delete_collection(self, collection_name: str) -> None:
        """Delete the collection of that name: its folder (an alias of the same name, which
        hides the folder, stays). An alias alone, or an alias's target, is refused."""
        if collection_name in self._aliases().values():
            raise ConfigError(f"collection {collection_name!r} is what an alias points at; switch the alias first")
        if collection_name in self._aliases() and not self._path(collection_name).exists():
            raise ConfigError(
                f"{collection_name!r} is an alias of {self._aliases()[collection_name]!r}, not a collection; rebuild it with `shop-assistant reindex`"
            )
        with self._lock:
            shard = self._shards.pop(collection_name, None)
            if shard is not None:
                shard.close()
        shutil.rmtree(self._path(collection_name), ignore_errors=True)

    def upsert(self, collection_name: str, points: list[IndexPoint]) -> None:
        shard = self._shard(collection_name)
        shard.update(qe.UpdateOperation.upsert_points([qe.Point(p.id, {k: _vector(v) for k, v in p.vectors.items()}, p.payload) for p in points]))

    def flush(self, collection_name: str) -> None:
        self._shard(collection_name).flush()

    def query(
        self,
        collection_name: str,
        prefetch: list[VectorQuery],
        fusion: Fusion | None,
        query_filter: Filters | None,
        limit: int,
        exact: bool = False,
    ) -> list[IndexHit]:
        shard = self._shard(collection_name)
        flt = to_edge_filter(query_filter)
        params = qe.SearchParams(exact=True) if exact else None
        if len(prefetch) == 1 and fusion is None:
            q = prefetch[0]
            req = qe.QueryRequest(
                limit=limit,
                query=qe.Query.Nearest(_vector(q.vector), using=q.using),
                filter=flt,
                params=params,
                with_payload=True,
                with_vector=False,
            )
        else:
            req = qe.QueryRequest(
                limit=limit,
                prefetches=[
                    qe.Prefetch(limit=q.limit, query=qe.Query.Nearest(_vector(q.vector), using=q.using), filter=flt, params=params) for q in prefetch
                ],
                query=_fusion(fusion or Fusion()),
                with_payload=True,
                with_vector=False,
            )
        return [_hit(p) for p in shard.query(req)]

    def retrieve(self, collection_name: str, ids: list[str]) -> list[IndexHit]:
        recs = self._shard(collection_name).retrieve(list(ids), with_payload=True, with_vector=False)
        by_id = {str(r.id): _hit(r) for r in recs}
        return [by_id[i] for i in ids if i in by_id]

    def existing_ids(self, collection_name: str, ids: list[str]) -> set[str]:
        recs = self._shard(collection_name).retrieve(list(ids), with_payload=False, with_vector=False)
        return {str(r.id) for r in recs}

    def count(self, collection_name: str, query_filter: Filters | None = None) -> int:
        return int(self._shard(collection_name).count(qe.CountRequest(filter=to_edge_filter(query_filter), exact=True)))

    def facet(self, collection_name: str, key: str, query_filter: Filters | None = None, limit: int = 20) -> list[FacetCount]:
        resp = self._shard(collection_name).facet(qe.FacetRequest(key=key, limit=limit, exact=True, filter=to_edge_filter(query_filter)))
        return [FacetCount(h.value, int(h.count)) for h in resp.hits]

    def scroll(self, collection_name: str, query_filter: Filters | None, limit: int, offset: str | None = None) -> tuple[list[IndexHit], str | None]:
        recs, nxt = self._shard(collection_name).scroll(
            qe.ScrollRequest(offset=offset, limit=limit, filter=to_edge_filter(query_filter), with_payload=True, with_vector=False)
        )
        return [_hit(r) for r in recs], (str(nxt) if nxt is not None else None)

    def delete(self, collection_name: str, ids: list[str]) -> None:
        self._shard(collection_name).update(qe.UpdateOperation.delete_points(list(ids)))

    def overwrite_payloads(self, collection_name: str, payloads: dict[str, dict[str, Any]]) -> None:
        shard = self._shard(collection_name)
        for pid, payload in payloads.items():  # one payload per operation: each product's differs
            shard.update(qe.UpdateOperation.overwrite_payload([pid], payload))

    def optimize(self, collection_name: str) -> None:
        shard = self._shard(collection_name)
        shard.flush()
        shard.optimize()

    @contextmanager
    def held(self, collection_name: str) -> Iterator[None]:
        """No shard of this index opened, created or let go by another thread meanwhile (a
        snapshot copies or replaces the collection's files under it)."""
        with self._lock:
            yield

    def forget(self, collection_name: str) -> None:
        """Flush and close the collection's shard if this process has it open (call under
        `held`); the next use opens it again from its folder."""
        shard = self._shards.pop(self.resolve(collection_name), None)
        if shard is not None:
            shard.flush()
            shard.close()

    def release(self, collection_name: str) -> None:
        """Let go of the collection's shard, and with it the lock on its files, so that another
        process (a server, after a reindex switched its alias) can open it."""
        with self.held(collection_name):
            self.forget(collection_name)

    def close(self) -> None:
        with self._lock:
            for shard in self._shards.values():
                shard.flush()
                shard.close()
            self._shards.clear()
