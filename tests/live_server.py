"""Real servers for tests that need sockets or a browser: one small real index (`small_backend`),
served by as many apps as a test needs (`serve`), each under the draining uvicorn server of `tests.ops_server.running` on a loopback port
(port 0: the OS picks a free one) with its own session store and `ServerSettings`;
`live_server` is both in one step. `recv_until` reads a socket's events up to one kind."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.agent import Agent
from assistant.catalogue.loader import load_catalogue
from assistant.config import Settings
from assistant.index.edge import EdgeIndex
from assistant.ingest import ingest_catalogue
from assistant.policies import EXAMPLE_POLICIES, PolicyIndex, load_passages
from assistant.retrieval.search import Retriever
from assistant.runtime import load_encoders
from assistant.server.services import Services
from assistant.server.settings import ServerSettings
from assistant.sessions import SqliteSessionStore
from tests.kagl_subset import write_subset
from tests.ops_server import running

_apps = itertools.count()  # each app's session store gets its own file


@dataclass(frozen=True)
class Backend:
    """What the apps serve: a small real index with its retriever and the example policies."""

    work_dir: Path
    settings: Settings
    retriever: Retriever
    policies: PolicyIndex
    rows: list[dict[str, str]]  # the catalogue rows indexed (KAGL columns; `image` an absolute path or "")


@dataclass(frozen=True)
class LiveServer:
    host: str  # "127.0.0.1:PORT"
    rows: list[dict[str, str]]

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@contextmanager
def small_backend(work_dir: Path, kagl_csv: Path, per_type: int = 20) -> Iterator[Backend]:
    """Index `per_type` products of each test type (tests.kagl_subset) into `work_dir`."""
    csv_path, rows = write_subset(kagl_csv, work_dir / "subset.csv", per_type=per_type)
    settings = Settings(data_dir=work_dir)
    enc = load_encoders(settings)
    index = EdgeIndex(work_dir / "index")
    try:
        ingest_catalogue(load_catalogue(csv_path), index, "kagl", enc, "test", progress=False)
        retriever = Retriever(index, "kagl", enc.clip, enc.text, enc.sparse)
        yield Backend(work_dir, settings, retriever, PolicyIndex(load_passages(EXAMPLE_POLICIES), enc.text), rows)
    finally:
        index.close()


@contextmanager
def serve(backend: Backend, server: ServerSettings | None = None, voice: bool = False, broad_result: int | None = None) -> Iterator[LiveServer]:
    """The app over `backend` (templated answers, no language model), until the block ends;
    with `voice`, Whisper hears (the catalogue's words) and espeak-ng speaks; `broad_result`:
    from how many matches the agent asks which brand or colour."""
    b = backend

    def agent(store: SqliteSessionStore) -> Agent:
        a = Agent(b.retriever, store, b.policies)
        if broad_result is not None:
            a.broad_result = broad_result
        return a

    def services() -> Services:
        store = SqliteSessionStore(b.work_dir / f"sessions-{next(_apps)}.db")
        speech = {}
        if voice:
            from assistant.voice.hearing import CatalogueHearing
            from assistant.voice.speech import Speaker
            from assistant.voice.transcriber import load_transcriber

            hearing = CatalogueHearing(b.retriever.vocabulary)
            speech = {"transcriber": load_transcriber(b.work_dir / "models", hearing=hearing), "speaker": Speaker()}
        return Services(b.settings, b.retriever, agent(store), b.policies, store, **speech)

    with running(services, server) as live:
        yield LiveServer(live.host, b.rows)


@contextmanager
def live_server(
    work_dir: Path, kagl_csv: Path, per_type: int = 20, voice: bool = False, server: ServerSettings | None = None
) -> Iterator[LiveServer]:
    """A small real index and one app serving it."""
    with small_backend(work_dir, kagl_csv, per_type) as backend, serve(backend, server, voice=voice) as live:
        yield live


def recv_until(ws: Any, kind: str, limit: int = 500, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Events of a `websockets` client up to and including the first of `kind` (heartbeats
    skipped); `timeout`: seconds to wait for each event."""
    out = []
    for _ in range(limit):
        ev = json.loads(ws.recv(timeout=timeout))
        if ev["type"] == "heartbeat":
            continue
        out.append(ev)
        if ev["type"] == kind:
            return out
    raise AssertionError(f"no {kind} event")
