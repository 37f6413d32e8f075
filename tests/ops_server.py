"""Real servers for the operations tests: one small real index per test process, and apps
under `DrainingServer` (the server `shop-assistant serve` runs) in a thread whose event loop
the test can reach (to count its tasks, or to read the app's state without a debug route).

`language_model_on_hold` is an OpenAI-compatible endpoint that takes a request and answers
nothing until released: the one step of a real turn that a test can hold open on purpose,
so a shutdown is known to arrive while the turn is in flight.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from assistant.agent import Agent
from assistant.catalogue.loader import load_catalogue
from assistant.config import LLMSettings, Settings
from assistant.index.edge import EdgeIndex
from assistant.ingest import ingest_catalogue
from assistant.llm.backends import load_lead_writer
from assistant.llm.wording import LeadWriter
from assistant.policies import EXAMPLE_POLICIES, PolicyIndex, load_passages
from assistant.retrieval.search import Retriever
from assistant.runtime import load_encoders
from assistant.server.app import create_app
from assistant.server.ops import DrainingServer, Operations, server_config
from assistant.server.services import Services
from assistant.server.settings import ServerSettings
from assistant.sessions import SqliteSessionStore, open_store
from tests.kagl_subset import write_subset

START_TIMEOUT_S = 60.0
T = TypeVar("T")


@dataclass(frozen=True)
class Backend:
    """What every test app serves: a small real index, its retriever and the example policies."""

    work_dir: Path
    retriever: Retriever
    policies: PolicyIndex
    rows: list[dict[str, str]]


_backend: Backend | None = None


def shared_backend(work_dir: Path, kagl_csv: Path, per_type: int = 5) -> Backend:
    """One backend per test process (the encoders and the ingest are the slow part); built on first use."""
    global _backend
    if _backend is None:
        csv_path, rows = write_subset(kagl_csv, work_dir / "subset.csv", per_type=per_type)
        enc = load_encoders(Settings(data_dir=work_dir))
        index = EdgeIndex(work_dir / "index")
        ingest_catalogue(load_catalogue(csv_path), index, "kagl", enc, "test", progress=False)
        retriever = Retriever(index, "kagl", enc.clip, enc.text, enc.sparse)
        _backend = Backend(work_dir, retriever, PolicyIndex(load_passages(EXAMPLE_POLICIES), enc.text), rows)
    return _backend


def services_factory(backend: Backend, db: Path | str, writer: LeadWriter | None = None) -> Callable[[], Services]:
    """Services over `backend` with their own session store (each app closes its own): SQLite
    at the path `db`, or the store a URL names (postgresql://...: replicas sharing sessions)."""

    def services() -> Services:
        store = open_store(db, backend.work_dir) if isinstance(db, str) else SqliteSessionStore(db)
        agent = Agent(backend.retriever, store, backend.policies, writer=writer)
        return Services(Settings(data_dir=backend.work_dir), backend.retriever, agent, backend.policies, store)

    return services


@dataclass
class Running:
    server: DrainingServer
    ops: Operations
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    host: str  # "127.0.0.1:PORT"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def on_loop(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's own event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout)

    def task_count(self) -> int:
        """How many asyncio tasks the server's loop holds (the one counting them excluded)."""

        async def count() -> int:
            return len(asyncio.all_tasks()) - 1

        return self.on_loop(count)

    def stop(self, timeout: float = 60.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("the server did not shut down")


@contextmanager
def running(services: Callable[[], Services], settings: ServerSettings | None = None, log_level: str = "warning") -> Iterator[Running]:
    """`create_app(services, settings)` under `DrainingServer` on a free loopback port, in a thread."""
    settings = (settings or ServerSettings()).updated({"host": "127.0.0.1", "port": 0})
    app = create_app(services=services, server=settings)
    server = DrainingServer(server_config(app, settings, log_config=None, log_level=log_level), app.state.ops)
    loops: queue.Queue[asyncio.AbstractEventLoop] = queue.Queue()

    async def serve() -> None:
        loops.put(asyncio.get_running_loop())
        await server.serve()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True, name="test-server")
    thread.start()
    loop = loops.get(timeout=START_TIMEOUT_S)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    live = Running(server, app.state.ops, loop, thread, f"127.0.0.1:{port}")
    try:
        yield live
    finally:
        if thread.is_alive():
            live.stop()


class HeldEndpoint:
    """An OpenAI-compatible endpoint address whose requests are held, unanswered, until `release`."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: queue.Queue[socket.socket] = queue.Queue()
        self._all: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="held-endpoint").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # released
            self._all.append(conn)
            self._held.put(conn)

    def wait_for_request(self, timeout: float = 60.0) -> None:
        """Block until a request has arrived (and is being held)."""
        self._held.get(timeout=timeout)

    def release(self) -> None:
        """Hang up on every held request (the model then counts as unavailable) and stop listening."""
        self._listener.close()
        for conn in self._all:
            conn.close()


@contextmanager
def language_model_on_hold() -> Iterator[tuple[HeldEndpoint, LeadWriter]]:
    """A real `LeadWriter` over the OpenAI client, pointed at a `HeldEndpoint`."""
    endpoint = HeldEndpoint()
    writer = load_lead_writer(Settings(llm=LLMSettings(backend="openai", url=endpoint.url, timeout_s=300.0)), warm=False)
    assert writer is not None
    try:
        yield endpoint, writer
    finally:
        endpoint.release()
