"""The scale engine: a Qdrant server or cluster through qdrant-client.

Same schema and query semantics as the embedded engine. `RemoteIndex(QdrantClient(url=...))`
in production; the congruence tests hand it qdrant-client's in-process `:memory:` mode,
which stands in for a server there (and only there: it is a brute-force reference).
"""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient, models

from assistant.config import ClusterLayout
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
from assistant.index.schema import BM25, CLIP_TEXT, FUSED, IMAGE, PAYLOAD_INDEXES, TEXT, VectorDims

_SCHEMA_TYPES = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "float": models.PayloadSchemaType.FLOAT,
}


def _condition(c: Condition) -> models.FieldCondition | models.HasVectorCondition:
    if c.any is not None:
        return models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.any)))
    if c.has_vector is not None:
        return models.HasVectorCondition(has_vector=c.has_vector)
    return models.FieldCondition(key=c.key, range=models.Range(gte=c.gte, lte=c.lte))


def to_client_filter(filters: Filters | None) -> models.Filter | None:
    if filters is None:
        return None
    conds = conditions(filters)
    if not conds:
        return None
    must: list[Any] = [_condition(c) for c in conds if not c.negate]
    must_not: list[Any] = [_condition(c) for c in conds if c.negate]
    return models.Filter(must=must or None, must_not=must_not or None)


def _vector(v: list[float] | SparseVec) -> Any:
    return models.SparseVector(indices=v.indices, values=v.values) if isinstance(v, SparseVec) else v


def _fusion(f: Fusion) -> Any:
    if f.method == "dbsf":
        return models.FusionQuery(fusion=models.Fusion.DBSF)
    # Always explicit: Qdrant's own default k is 2, the project's is 60.
    return models.RrfQuery(rrf=models.Rrf(k=f.k, weights=list(f.weights) if f.weights else None))


def _hit(p: Any) -> IndexHit:
    return IndexHit(id=str(p.id), score=float(getattr(p, "score", 0.0) or 0.0), payload=dict(p.payload or {}))


class RemoteIndex:
    """`ProductIndex` over a qdrant-client connection."""

    def __init__(self, client: QdrantClient, layout: ClusterLayout | None = None) -> None:
        self.client = client
        self.layout = layout or ClusterLayout()  # how ingest creates a collection on a cluster

    @classmethod
    def connect(cls, url: str, api_key: str | None = None, timeout: float = 10.0, layout: ClusterLayout | None = None) -> RemoteIndex:
        client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout))
        try:
            client.get_collections()
        except Exception as e:  # connection refused, DNS, TLS: all mean "server unavailable"
            raise IndexUnavailable(f"Qdrant server at {url} is unreachable: {e.__class__.__name__}: {e}") from e
        return cls(client, layout)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConnectionError, TimeoutError) as e:
            raise IndexUnavailable(f"Qdrant server unavailable: {e}") from e
        except Exception as e:
            name = e.__class__.__name__
            if name in ("ResponseHandlingException", "ConnectError", "ReadTimeout", "ConnectTimeout"):
                raise IndexUnavailable(f"Qdrant server unavailable: {e}") from e
            raise

    def list_collections(self) -> list[str]:
        return sorted(c.name for c in self._call(self.client.get_collections).collections)

    def collection_exists(self, collection_name: str) -> bool:
        """A collection, or an alias of one (queries by an alias reach its collection)."""
        return bool(self._call(self.client.collection_exists, collection_name)) or self.alias_target(collection_name) is not None

    def resolve(self, collection_name: str) -> str:
        return self.alias_target(collection_name) or collection_name

    def alias_target(self, alias: str) -> str | None:
        aliases = self._call(self.client.get_aliases).aliases
        return next((a.collection_name for a in aliases if a.alias_name == alias), None)

    def release(self, collection_name: str) -> None:
        """Nothing to let go: the server holds the collection, not this process."""

    def alias_problem(self, alias: str) -> str | None:
        # An existing alias is fine to move; a collection of that name is not (some engines'
        # `collection_exists` answers True for an alias too, so the alias is asked first).
        if self.alias_target(alias) is None and self._call(self.client.collection_exists, alias):
            return (
                f"{alias!r} is a collection on the Qdrant server, not an alias, and a server cannot give an alias a collection's "
                f"name: serve another name (--collection {alias}-live, say), reindex under it, then delete {alias!r}"
            )
        return None

    def switch_alias(self, alias: str, collection_name: str) -> None:
        """Point `alias` at `collection_name` in one request (Qdrant applies the list of alias
        changes atomically): queries by the alias see the old collection or the new."""
        if (problem := self.alias_problem(alias)) is not None:
            raise ConfigError(problem)
        changes: list[Any] = []
        if self.alias_target(alias) is not None:
            changes.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        changes.append(models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection_name, alias_name=alias)))
        self._call(self.client.update_collection_aliases, change_aliases_operations=changes)

    def _require(self, collection_name: str) -> None:
        if not self.collection_exists(collection_name):
            raise CollectionNotFound(
                f"collection {collection_name!r} not found on the Qdrant server; "
                f"existing: {self.list_collections() or 'none'} (run `shop-assistant ingest` first)"
            )

    def create_collection(self, collection_name: str, dims: VectorDims) -> None:
        if self.collection_exists(collection_name):
            return
        self._call(
            self.client.create_collection,
            collection_name,
            vectors_config={
                IMAGE: models.VectorParams(size=dims.clip, distance=models.Distance.COSINE),
                CLIP_TEXT: models.VectorParams(size=dims.clip, distance=models.Distance.COSINE),
                FUSED: models.VectorParams(size=dims.clip, distance=models.Distance.COSINE),
                TEXT: models.VectorParams(size=dims.text, distance=models.Distance.COSINE),
            },
            sparse_vectors_config={BM25: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            shard_number=self.layout.shard_number,
            replication_factor=self.layout.replication_factor,
            write_consistency_factor=self.layout.write_consistency_factor,
        )
        for field, kind in PAYLOAD_INDEXES.items():
            self._call(self.client.create_payload_index, collection_name, field, _SCHEMA_TYPES[kind])

    def delete_collection(self, collection_name: str) -> None:
        aliases = {a.alias_name: a.collection_name for a in self._call(self.client.get_aliases).aliases}
        if collection_name in aliases:
            raise ConfigError(
                f"{collection_name!r} is an alias of {aliases[collection_name]!r}, not a collection; rebuild it with `shop-assistant reindex`"
            )
        if collection_name in aliases.values():
            raise ConfigError(f"collection {collection_name!r} is what an alias points at; switch the alias first")
        self._call(self.client.delete_collection, collection_name)

    def upsert(self, collection_name: str, points: list[IndexPoint]) -> None:
        self._require(collection_name)
        self._call(
            self.client.upsert,
            collection_name,
            points=[models.PointStruct(id=p.id, vector={k: _vector(v) for k, v in p.vectors.items()}, payload=p.payload) for p in points],
            wait=True,
        )

    def flush(self, collection_name: str) -> None:
        """The server persists on its own; nothing to do."""

    def query(
        self,
        collection_name: str,
        prefetch: list[VectorQuery],
        fusion: Fusion | None,
        query_filter: Filters | None,
        limit: int,
        exact: bool = False,
    ) -> list[IndexHit]:
        self._require(collection_name)
        flt = to_client_filter(query_filter)
        params = models.SearchParams(exact=True) if exact else None
        if len(prefetch) == 1 and fusion is None:
            q = prefetch[0]
            res = self._call(
                self.client.query_points,
                collection_name,
                query=_vector(q.vector),
                using=q.using,
                query_filter=flt,
                search_params=params,
                limit=limit,
                with_payload=True,
            )
        else:
            res = self._call(
                self.client.query_points,
                collection_name,
                prefetch=[models.Prefetch(query=_vector(q.vector), using=q.using, limit=q.limit, filter=flt, params=params) for q in prefetch],
                query=_fusion(fusion or Fusion()),
                limit=limit,
                with_payload=True,
            )
        return [_hit(p) for p in res.points]

    def retrieve(self, collection_name: str, ids: list[str]) -> list[IndexHit]:
        self._require(collection_name)
        recs = self._call(self.client.retrieve, collection_name, ids=list(ids), with_payload=True)
        by_id = {str(r.id): _hit(r) for r in recs}
        return [by_id[i] for i in ids if i in by_id]

    def existing_ids(self, collection_name: str, ids: list[str]) -> set[str]:
        recs = self._call(self.client.retrieve, collection_name, ids=list(ids), with_payload=False)
        return {str(r.id) for r in recs}

    def count(self, collection_name: str, query_filter: Filters | None = None) -> int:
        self._require(collection_name)
        return int(self._call(self.client.count, collection_name, count_filter=to_client_filter(query_filter), exact=True).count)

    def facet(self, collection_name: str, key: str, query_filter: Filters | None = None, limit: int = 20) -> list[FacetCount]:
        self._require(collection_name)
        res = self._call(self.client.facet, collection_name, key=key, facet_filter=to_client_filter(query_filter), limit=limit, exact=True)
        return [FacetCount(h.value, int(h.count)) for h in res.hits]

    def scroll(self, collection_name: str, query_filter: Filters | None, limit: int, offset: str | None = None) -> tuple[list[IndexHit], str | None]:
        self._require(collection_name)
        recs, nxt = self._call(
            self.client.scroll, collection_name, scroll_filter=to_client_filter(query_filter), limit=limit, offset=offset, with_payload=True
        )
        return [_hit(r) for r in recs], (str(nxt) if nxt is not None else None)

    def delete(self, collection_name: str, ids: list[str]) -> None:
        self._require(collection_name)
        self._call(self.client.delete, collection_name, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def overwrite_payloads(self, collection_name: str, payloads: dict[str, dict[str, Any]]) -> None:
        self._require(collection_name)
        if not payloads:
            return
        ops = [models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload=pl, points=[pid])) for pid, pl in payloads.items()]
        self._call(self.client.batch_update_points, collection_name, update_operations=ops, wait=True)

    def optimize(self, collection_name: str) -> None:
        """The server's optimizers index in the background; nothing to force."""

    def close(self) -> None:
        self.client.close()
