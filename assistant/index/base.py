"""The index interface every engine implements, and its typed requests and results.

Owns `ProductIndex` (the protocol), `Filters` (what a query may be restricted to),
`VectorQuery` (one prefetch: a vector and the named vector it searches) and the typed
results. The vocabulary is Qdrant's own: `collection_name`, `using`, `prefetch`,
`query_filter`. Does not own encoding or fusion logic beyond what Qdrant's Query API does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from assistant.index.schema import VectorDims


@dataclass(frozen=True)
class SparseVec:
    """A sparse vector: term ids and weights, same length."""

    indices: list[int]
    values: list[float]


Vector = list[float] | SparseVec


@dataclass(frozen=True)
class VectorQuery:
    """One ranked list: nearest points to `vector` in the named vector `using`."""

    using: str
    vector: Vector
    limit: int = 100


@dataclass(frozen=True)
class Fusion:
    """Qdrant's server-side fusion of prefetch lists."""

    method: Literal["rrf", "dbsf"] = "rrf"
    k: int = 60  # RRF constant
    weights: tuple[float, ...] | None = None  # RRF per-prefetch weights


@dataclass
class Filters:
    """Payload restrictions. Lists mean "any of"; all fields combine with AND."""

    colour: list[str] = field(default_factory=list)
    gender: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    article_type: list[str] = field(default_factory=list)
    brand: list[str] = field(default_factory=list)
    exclude_brand: list[str] = field(default_factory=list)
    season: list[str] = field(default_factory=list)
    usage: list[str] = field(default_factory=list)
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool | None = None
    has_image: bool | None = None
    product_ids: list[str] = field(default_factory=list)
    exclude_product_ids: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return self == Filters()

    def describe(self) -> list[str]:
        """Human-readable conditions, e.g. ["colour is black", "price <= 50"]."""
        out = []
        for name in ("colour", "gender", "category", "article_type", "brand", "season", "usage"):
            vals = getattr(self, name)
            if vals:
                out.append(f"{name.replace('_', ' ')} is {' or '.join(vals)}")
        if self.exclude_brand:
            out.append(f"brand is not {' or '.join(self.exclude_brand)}")
        if self.price_min is not None:
            out.append(f"price >= {self.price_min:g}")
        if self.price_max is not None:
            out.append(f"price <= {self.price_max:g}")
        if self.in_stock is not None:
            out.append("in stock" if self.in_stock else "out of stock")
        if self.has_image is not None:
            out.append("has a photo" if self.has_image else "has no photo")
        if self.product_ids:
            out.append(f"product id in {self.product_ids}")
        if self.exclude_product_ids:
            out.append(f"product id not in {self.exclude_product_ids}")
        return out


@dataclass(frozen=True)
class IndexPoint:
    """A point to upsert: id (UUID string), named vectors (missing ones absent), payload."""

    id: str
    vectors: dict[str, Vector]
    payload: dict[str, Any]


@dataclass(frozen=True)
class IndexHit:
    """A scored point from a query."""

    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class FacetCount:
    value: str | int | bool
    count: int


class ProductIndex(Protocol):
    """What retrieval needs from an engine. Both engines give the same answers."""

    def collection_exists(self, collection_name: str) -> bool: ...

    def list_collections(self) -> list[str]: ...

    def create_collection(self, collection_name: str, dims: VectorDims) -> None:
        """Create the collection with the schema's vectors and payload indexes (no-op if it exists)."""

    def delete_collection(self, collection_name: str) -> None: ...

    def alias_target(self, alias: str) -> str | None:
        """The collection `alias` points at; None when it is no alias."""

    def resolve(self, collection_name: str) -> str:
        """The collection a name means: an alias's target, or the name itself."""

    def release(self, collection_name: str) -> None:
        """Let go of any handle this process keeps on the collection (the embedded engine locks
        a shard's files while open), so that another process can open it."""

    def alias_problem(self, alias: str) -> str | None:
        """Why `alias` cannot be made to point at a collection, or None."""

    def switch_alias(self, alias: str, collection_name: str) -> None:
        """Point `alias` at `collection_name` in one step (created if new): every query by the
        alias reads the old collection or the new, never neither (`shop-assistant reindex`)."""

    def upsert(self, collection_name: str, points: list[IndexPoint]) -> None: ...

    def query(
        self,
        collection_name: str,
        prefetch: list[VectorQuery],
        fusion: Fusion | None,
        query_filter: Filters | None,
        limit: int,
        exact: bool = False,
    ) -> list[IndexHit]:
        """One prefetch and no fusion: a plain nearest search; several: fused by `fusion`."""

    def retrieve(self, collection_name: str, ids: list[str]) -> list[IndexHit]: ...

    def existing_ids(self, collection_name: str, ids: list[str]) -> set[str]: ...

    def count(self, collection_name: str, query_filter: Filters | None = None) -> int: ...

    def facet(self, collection_name: str, key: str, query_filter: Filters | None = None, limit: int = 20) -> list[FacetCount]: ...

    def scroll(
        self, collection_name: str, query_filter: Filters | None, limit: int, offset: str | None = None
    ) -> tuple[list[IndexHit], str | None]: ...

    def delete(self, collection_name: str, ids: list[str]) -> None: ...

    def overwrite_payloads(self, collection_name: str, payloads: dict[str, dict[str, Any]]) -> None:
        """Replace each point's payload (point id → payload), its vectors untouched."""

    def flush(self, collection_name: str) -> None:
        """Make every update so far durable on disk."""

    def optimize(self, collection_name: str) -> None:
        """Build the HNSW and payload indexes now (the edge engine builds them on demand)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Condition:
    """One engine-neutral payload condition; each engine translates these into its own types."""

    key: str
    any: tuple[str, ...] | None = None  # keyword is any of these
    gte: float | None = None
    lte: float | None = None
    has_vector: str | None = None  # the point has this named vector
    negate: bool = False  # belongs in must_not


def conditions(filters: Filters) -> list[Condition]:
    """The conditions of `filters`, keyword values normalised like the payload's `_key` fields."""
    from assistant.index.schema import FILTER_FIELDS, key

    out: list[Condition] = []
    for name, payload_key in FILTER_FIELDS.items():
        vals = getattr(filters, name)
        if vals:
            out.append(Condition(payload_key, any=tuple(key(v) for v in vals)))
    if filters.exclude_brand:
        out.append(Condition("brand_key", any=tuple(key(v) for v in filters.exclude_brand), negate=True))
    if filters.price_min is not None or filters.price_max is not None:
        out.append(Condition("price", gte=filters.price_min, lte=filters.price_max))
    # Booleans are matched through a keyword mirror and the vector's presence: qdrant-edge
    # 0.9 matches no point for a boolean MatchValue (seen here with and without an index).
    if filters.in_stock is not None:
        out.append(Condition("in_stock_key", any=("true" if filters.in_stock else "false",)))
    if filters.has_image is not None:
        out.append(Condition("has_image", has_vector="image", negate=not filters.has_image))
    if filters.product_ids:
        out.append(Condition("product_id", any=tuple(filters.product_ids)))
    if filters.exclude_product_ids:
        out.append(Condition("product_id", any=tuple(filters.exclude_product_ids), negate=True))
    return out
