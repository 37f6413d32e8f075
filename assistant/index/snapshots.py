"""Snapshots of an embedded collection: one file to back it up, move it to another machine,
or go back to it.

A snapshot is a tar archive: `snapshot.json` first (the format, the collection, its schema —
vector names and sizes, sparse vectors, payload indexes —, its point count, and a SHA-256 of
every file), then the shard's files under `shard/`. `create_snapshot` flushes the shard and
copies its files while the index is held by this process, so nothing writes to them meanwhile.
`restore_snapshot` checks the archive (readable, every file's digest, a schema this release
reads, sizes that match the live collection's) and unpacks it beside the live collection; it
opens the unpacked shard and counts its points before anything is replaced, so a corrupt or
foreign snapshot is refused with the live collection untouched. The swap is two renames.

Does not own the shard's file format (qdrant-edge) or a Qdrant server's snapshots (the server
has its own API: `qdrant-client`'s `create_snapshot` / `recover_snapshot`).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.index.schema import BM25, DENSE_VECTORS, PAYLOAD_INDEXES

FORMAT = "shop-assistant-edge-snapshot"
FORMAT_VERSION = 1
MANIFEST = "snapshot.json"
CHUNK = 1 << 20  # bytes read at a time for digests


class SnapshotError(AssistantError):
    """A snapshot cannot be made or restored: unreadable, corrupt, another schema, or the index
    is busy. The live collection is left as it was."""

    user_visible = False


@dataclass(frozen=True)
class SnapshotInfo:
    path: Path
    collection: str
    points: int
    files: int
    bytes: int


def _schema(edge_config: dict[str, Any]) -> dict[str, Any]:
    """What a snapshot must agree on with the code and the live collection to be restored."""
    return {
        "vectors": {name: spec.get("size") for name, spec in sorted(edge_config.get("vectors", {}).items())},
        "sparse_vectors": sorted(edge_config.get("sparse_vectors", {})),
        "payload_indexes": PAYLOAD_INDEXES,
    }


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def create_snapshot(index: Any, collection_name: str, out: Path) -> SnapshotInfo:
    """Write `collection_name` of the open `EdgeIndex` `index` to the archive `out`."""
    shard_dir = index.root / index.resolve(collection_name)  # an alias: the collection it points at
    points = index.count(collection_name)  # opens the shard: a missing collection fails here, clearly
    with index.held(collection_name):
        index.forget(collection_name)  # flushed and closed: its files are the whole state while they are read
        files = sorted(p for p in shard_dir.rglob("*") if p.is_file())
        config = json.loads((shard_dir / "edge_config.json").read_text())
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "collection": collection_name,
            "created": time.time(),
            "points": points,
            "schema": _schema(config),
            "files": {p.relative_to(shard_dir).as_posix(): _digest(p) for p in files},
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")  # a crash leaves no half-written snapshot under its name
        try:
            with tarfile.open(partial, "w") as tar:
                data = json.dumps(manifest, indent=1).encode()
                entry = tarfile.TarInfo(MANIFEST)
                entry.size, entry.mtime = len(data), int(time.time())
                tar.addfile(entry, io.BytesIO(data))
                for p in files:
                    tar.add(p, arcname=f"shard/{p.relative_to(shard_dir).as_posix()}", recursive=False)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    return SnapshotInfo(out, collection_name, points, len(files), out.stat().st_size)


def read_manifest(snapshot: Path) -> dict[str, Any]:
    """The snapshot's manifest, after checking that it is one of ours in a format we read."""
    try:
        with tarfile.open(snapshot, "r:") as tar:
            member = tar.getmember(MANIFEST)
            f = tar.extractfile(member)
            manifest = json.loads(f.read()) if f is not None else None
    except FileNotFoundError as e:
        raise SnapshotError(f"no snapshot file at {snapshot}") from e
    except (tarfile.TarError, KeyError, json.JSONDecodeError, EOFError, OSError) as e:
        raise SnapshotError(f"{snapshot} is not a readable snapshot ({_why(e)})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"{snapshot} is not a shop-assistant snapshot")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(f"{snapshot} has snapshot format {manifest.get('format_version')}; this release reads {FORMAT_VERSION}")
    return manifest


def restore_snapshot(index: Any, snapshot: Path, collection_name: str | None = None) -> SnapshotInfo:
    """Replace (or create) `collection_name` (default: the snapshot's own) in the `EdgeIndex`
    `index` with the snapshot's contents, once the snapshot has been checked whole."""
    import qdrant_edge as qe

    manifest = read_manifest(snapshot)
    name = collection_name or str(manifest["collection"])
    schema = manifest.get("schema", {})
    if sorted(schema.get("vectors", {})) != sorted(DENSE_VECTORS) or schema.get("sparse_vectors") != [BM25]:
        raise SnapshotError(
            f"{snapshot} holds vectors {sorted(schema.get('vectors', {}))} and sparse {schema.get('sparse_vectors')}; "
            f"this release's schema has {sorted(DENSE_VECTORS)} and [{BM25!r}]"
        )
    if schema.get("payload_indexes") != PAYLOAD_INDEXES:
        raise SnapshotError(f"{snapshot} indexes other payload fields than this release ({', '.join(PAYLOAD_INDEXES)})")
    live = index.root / index.resolve(name)
    if (live / "edge_config.json").exists():
        sizes = _schema(json.loads((live / "edge_config.json").read_text()))["vectors"]
        if sizes != schema["vectors"]:
            raise SnapshotError(f"{snapshot} has vector sizes {schema['vectors']}, the live collection {name!r} {sizes}: other encoders made it")
    staging = index.root / f".restore-{name}-{uuid.uuid4().hex[:8]}"
    try:
        _unpack_checked(snapshot, manifest, staging)
        shard = qe.EdgeShard.load(str(staging))  # the engine reads it back before it replaces anything
        try:
            points = shard.count(qe.CountRequest(exact=True))
        finally:
            shard.close()
        if points != manifest["points"]:
            raise SnapshotError(f"{snapshot} says {manifest['points']} points but its shard holds {points}")
        with index.held(name):
            index.forget(name)  # this process lets go of the live shard before its folder moves
            old = index.root / f".replaced-{name}-{uuid.uuid4().hex[:8]}"
            if live.exists():
                live.rename(old)
            staging.rename(live)
        shutil.rmtree(old, ignore_errors=True)
    except SnapshotError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the engine says of a bad shard, the snapshot is refused
        raise SnapshotError(f"{snapshot} could not be restored: {_why(e)}") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = len(manifest["files"])
    return SnapshotInfo(snapshot, name, points, files, snapshot.stat().st_size)


def _why(e: BaseException) -> str:
    """An exception as one short line: a CLI prints errors on one line."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


def _unpack_checked(snapshot: Path, manifest: dict[str, Any], into: Path) -> None:
    """The shard's files into `into`, each checked against its digest; nothing outside it."""
    expected: dict[str, str] = manifest.get("files", {})
    seen: set[str] = set()
    into.mkdir(parents=True)
    try:
        with tarfile.open(snapshot, "r:") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                rel = member.name.removeprefix("shard/")
                if not member.name.startswith("shard/") or not member.isfile() or rel not in expected:
                    raise SnapshotError(f"{snapshot} holds an unexpected entry {member.name!r}")
                target = (into / rel).resolve()
                if into.resolve() not in target.parents:
                    raise SnapshotError(f"{snapshot} holds a path outside the shard: {member.name!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                f = tar.extractfile(member)
                assert f is not None
                h = hashlib.sha256()
                with target.open("wb") as out:
                    while chunk := f.read(CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                if h.hexdigest() != expected[rel]:
                    raise SnapshotError(f"{snapshot} is corrupt: {rel} does not match its digest")
                seen.add(rel)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise SnapshotError(f"{snapshot} is truncated or corrupt ({_why(e)})") from e
    if missing := set(expected) - seen:
        raise SnapshotError(f"{snapshot} is incomplete: {len(missing)} file(s) missing, e.g. {sorted(missing)[0]}")
