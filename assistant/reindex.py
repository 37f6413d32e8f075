"""A zero-downtime reindex: build the catalogue into a new collection while the served name
keeps answering from the old one, then switch the name (an alias) to the new collection in
one step and drop the old.

The served name is an alias on both engines (Qdrant's own aliases on a server; `aliases.json`
beside the embedded shards). The new collection's point ids are made from the served name,
so a product keeps its id across the switch and references in open sessions stay valid.
Does not own what an ingest does (`assistant.ingest`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError
from assistant.ingest import IngestReport, ingest_catalogue

if TYPE_CHECKING:
    from assistant.catalogue.loader import Catalogue
    from assistant.index.base import ProductIndex


@dataclass
class ReindexReport:
    served: str  # the name queries use (the alias)
    collection: str  # the new collection it points at now
    previous: str | None  # what it pointed at before (None: nothing was served)
    dropped: bool  # the previous collection was deleted
    ingest: IngestReport
    seconds: float

    def summary(self) -> str:
        was = f"; previously {self.previous!r}" + (" (deleted)" if self.dropped else " (kept)") if self.previous else ""
        return f"{self.served!r} now serves {self.collection!r}{was}; {self.ingest.summary()}; {self.seconds:.1f} s in all"


def new_collection_name(served: str) -> str:
    return f"{served}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def reindex_catalogue(
    catalogue: Catalogue,
    index: ProductIndex,
    served: str,
    encoders: Any,
    model_tag: str,
    keep_old: bool = False,
    optimize: bool = True,
    progress: bool = True,
    collection_name: str | None = None,
) -> ReindexReport:
    """Ingest `catalogue` into a new collection, build its index, point `served` at it, and
    (unless `keep_old`) delete what `served` pointed at before. A failure before the switch
    leaves `served` answering as it did (the half-built collection is deleted)."""
    t0 = time.time()
    previous = index.alias_target(served)
    if previous is None and index.collection_exists(served):
        previous = served  # a collection by that name: the alias will hide it (embedded) or is refused (server)
    if (problem := index.alias_problem(served)) is not None:
        raise ConfigError(problem)  # before an hour of encoding, not after
    new = collection_name or new_collection_name(served)
    if index.collection_exists(new):
        raise ConfigError(f"collection {new!r} exists already; give another name")
    try:
        report = ingest_catalogue(catalogue, index, new, encoders, model_tag, progress=progress, id_namespace=served)
        if optimize:
            index.optimize(new)
        index.flush(new)
        index.release(new)  # a server in another process must be able to open it the moment the name moves
        index.switch_alias(served, new)
    except BaseException:
        if index.collection_exists(new) and index.alias_target(served) != new:
            index.delete_collection(new)
        raise
    dropped = False
    if previous is not None and not keep_old:
        index.delete_collection(previous)  # an embedded folder named like the alias, now hidden by it, goes too
        dropped = True
    return ReindexReport(served, new, previous, dropped, report, time.time() - t0)
