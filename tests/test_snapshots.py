"""Snapshots of the embedded index: written whole, restored to the same answers, and any
snapshot that is corrupt, truncated, foreign or of another schema refused with the live
collection untouched. Real qdrant-edge shards of synthetic points (no models needed)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import numpy as np
import pytest

from assistant.encoders.sparse import Bm25Encoder
from assistant.index.base import IndexPoint, VectorQuery
from assistant.index.edge import EdgeIndex
from assistant.index.schema import BM25, CLIP_TEXT, FUSED, IMAGE, TEXT, VectorDims
from assistant.index.snapshots import MANIFEST, SnapshotError, create_snapshot, read_manifest, restore_snapshot

N = 60


def _fill(index: EdgeIndex, name: str, n: int = N, clip: int = 8, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    bm25 = Bm25Encoder()
    index.create_collection(name, VectorDims(clip=clip, text=6))
    points = []
    for i in range(n):
        text = f"product {i} {'black' if i % 2 else 'red'} shoes"
        vectors = {k: rng.normal(size=clip).tolist() for k in (IMAGE, CLIP_TEXT, FUSED)}
        vectors[TEXT] = rng.normal(size=6).tolist()
        vectors[BM25] = bm25.encode_documents([text])[0]
        points.append(IndexPoint(str(uuid.uuid5(uuid.NAMESPACE_OID, f"{seed}-{i}")), vectors, {"product_id": str(i), "name": text}))
    index.upsert(name, points)
    index.flush(name)


def _top(index: EdgeIndex, name: str) -> list[str]:
    q = np.random.default_rng(99).normal(size=6).tolist()
    return [h.payload["product_id"] for h in index.query(name, [VectorQuery(TEXT, q, 10)], None, None, 10)]


@pytest.fixture
def live(tmp_path):
    index = EdgeIndex(tmp_path / "index")
    _fill(index, "kagl")
    yield index
    index.close()


def test_a_snapshot_restores_the_same_collection_elsewhere(live, tmp_path):
    before = _top(live, "kagl")
    info = create_snapshot(live, "kagl", tmp_path / "kagl.snap")
    assert info.points == N and info.files > 0
    assert _top(live, "kagl") == before, "the live index answers as before after a snapshot"
    other = EdgeIndex(tmp_path / "elsewhere")
    try:
        restored = restore_snapshot(other, tmp_path / "kagl.snap")
        assert restored.points == N and other.count("kagl") == N
        assert _top(other, "kagl") == before
    finally:
        other.close()


def test_restoring_over_a_live_collection_goes_back_to_the_snapshot(live, tmp_path):
    create_snapshot(live, "kagl", tmp_path / "kagl.snap")
    before = _top(live, "kagl")
    _fill(live, "kagl", n=10, seed=8)  # later changes
    assert live.count("kagl") == N + 10
    restore_snapshot(live, tmp_path / "kagl.snap")
    assert live.count("kagl") == N and _top(live, "kagl") == before
    assert sorted(p.name for p in live.root.iterdir()) == ["kagl"], "no staging or replaced folders left behind"


def _rewrite(src: Path, dst: Path, change) -> None:  # type: ignore[no-untyped-def]
    """A copy of the snapshot with `change(name, bytes) -> bytes | None` applied to its entries."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin:
            data = tin.extractfile(m).read()  # type: ignore[union-attr]
            new = change(m.name, data)
            if new is None:
                continue
            info = tarfile.TarInfo(m.name)
            info.size = len(new)
            tout.addfile(info, io.BytesIO(new))


def _manifest_edit(edit):  # type: ignore[no-untyped-def]
    def change(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        m = json.loads(data)
        edit(m)
        return json.dumps(m).encode()

    return change


def _flip_a_byte(name: str, data: bytes) -> bytes:
    if name.startswith("shard/segments/") and len(data) > 100:
        return data[:50] + bytes([data[50] ^ 0xFF]) + data[51:]
    return data


BAD = {
    "a flipped byte": (_flip_a_byte, "corrupt"),
    "a missing file": (lambda name, data: None if name.endswith("edge_config.json") else data, "incomplete"),
    "another schema's vectors": (_manifest_edit(lambda m: m["schema"]["vectors"].pop("fused")), "this release's schema"),
    "other payload indexes": (_manifest_edit(lambda m: m["schema"]["payload_indexes"].pop("price")), "other payload fields"),
    "another format": (_manifest_edit(lambda m: m.update(format_version=99)), "snapshot format 99"),
    "a wrong point count": (_manifest_edit(lambda m: m.update(points=N + 1)), "says 61 points"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_snapshot_is_refused_and_the_live_collection_untouched(live, tmp_path, case):
    good = tmp_path / "good.snap"
    create_snapshot(live, "kagl", good)
    _fill(live, "kagl", n=5, seed=11)  # the live collection differs from the snapshot
    before = (live.count("kagl"), _top(live, "kagl"))
    change, message = BAD[case]
    bad = tmp_path / "bad.snap"
    _rewrite(good, bad, change)
    with pytest.raises(SnapshotError, match=message):
        restore_snapshot(live, bad)
    assert (live.count("kagl"), _top(live, "kagl")) == before
    assert sorted(p.name for p in live.root.iterdir()) == ["kagl"]


def test_a_truncated_or_foreign_file_is_refused(live, tmp_path):
    good = tmp_path / "good.snap"
    create_snapshot(live, "kagl", good)
    truncated = tmp_path / "truncated.snap"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SnapshotError, match="truncated or corrupt|incomplete|not a readable snapshot"):
        restore_snapshot(live, truncated)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a tar")
    with pytest.raises(SnapshotError, match="not a readable snapshot"):
        read_manifest(tmp_path / "photo.jpg")
    assert live.count("kagl") == N


def test_a_snapshot_of_other_vector_sizes_is_refused(live, tmp_path):
    elsewhere = EdgeIndex(tmp_path / "other")
    try:
        _fill(elsewhere, "kagl", clip=16)  # another CLIP made it
        create_snapshot(elsewhere, "kagl", tmp_path / "wide.snap")
    finally:
        elsewhere.close()
    with pytest.raises(SnapshotError, match="other encoders"):
        restore_snapshot(live, tmp_path / "wide.snap")
    assert live.count("kagl") == N


def test_the_cli_writes_and_restores_and_refuses_in_one_line(live, tmp_path):
    live.close()  # one process at a time may open an embedded index folder
    cli = [sys.executable, "-m", "assistant.cli", "--index", str(live.root)]
    made = subprocess.run([*cli, "snapshot", str(tmp_path / "cli.snap")], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0 and f"{N} products" in made.stdout, made.stderr
    back = subprocess.run([*cli, "restore", str(tmp_path / "cli.snap"), "--as", "copy"], capture_output=True, text=True, timeout=120)
    assert back.returncode == 0 and "restored 'copy'" in back.stdout, back.stderr
    (tmp_path / "junk.snap").write_bytes(b"junk")
    refused = subprocess.run([*cli, "restore", str(tmp_path / "junk.snap")], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.strip().startswith("error:") and len(refused.stderr.strip().splitlines()) == 1
