"""The layout a collection gets on a Qdrant cluster (shards, replicas, write consistency)
reaches the server's create-collection request as configured. No Qdrant server can run on
this machine, so a loopback HTTP endpoint that answers the few REST calls of a collection's
creation as Qdrant does, and records them, stands in for it; the index's behaviour itself is
tested through qdrant-client's own engine (test_index_congruence.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.config import ClusterLayout, Settings
from assistant.index.remote import RemoteIndex
from assistant.index.schema import VectorDims


@pytest.fixture
def recording_qdrant() -> Iterator[tuple[str, list[tuple[str, str, object]]]]:
    seen: list[tuple[str, str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, result: object, raw: object | None = None) -> None:
            body = json.dumps(raw if raw is not None else {"result": result, "status": "ok", "time": 0.0}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(("GET", self.path, None))
            if self.path == "/":
                self._answer(None, {"title": "qdrant", "version": "1.20.0"})  # the client's own version: no mismatch warning
            elif self.path.endswith("/exists"):
                self._answer({"exists": False})
            elif self.path.endswith("/aliases"):
                self._answer({"aliases": []})
            else:
                self._answer({"collections": []})

        def do_PUT(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"null")
            seen.append(("PUT", self.path, body))
            self._answer({"operation_id": 1, "status": "completed"} if "/index" in self.path else True)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def test_ingest_creates_the_collection_sharded_and_replicated_as_configured(recording_qdrant):
    url, seen = recording_qdrant
    env = {"SHOP_ASSISTANT_QDRANT_SHARD_NUMBER": "6", "SHOP_ASSISTANT_QDRANT_REPLICATION_FACTOR": "2"}
    layout = Settings.from_env({**env, "SHOP_ASSISTANT_QDRANT_WRITE_CONSISTENCY_FACTOR": "1"}).index.cluster
    RemoteIndex.connect(url, layout=layout).create_collection("kagl", VectorDims(clip=8, text=8))
    created = [body for method, path, body in seen if method == "PUT" and path == "/collections/kagl"]
    assert len(created) == 1
    body = created[0]
    assert isinstance(body, dict)
    assert (body["shard_number"], body["replication_factor"], body["write_consistency_factor"]) == (6, 2, 1)
    assert set(body["vectors"]) == {"image", "clip_text", "fused", "text"} and "bm25" in body["sparse_vectors"]


def test_a_layout_that_is_not_a_number_is_refused():
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="SHOP_ASSISTANT_QDRANT_REPLICATION_FACTOR"):
        Settings.from_env({"SHOP_ASSISTANT_QDRANT_REPLICATION_FACTOR": "two"})
    assert ClusterLayout().model_dump() == {"shard_number": 6, "replication_factor": 2, "write_consistency_factor": 1}
