"""The server the serving benchmarks measure: `shop-assistant serve` in its own process, as
deployed (the benchmark's clients then never share its interpreter), on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_process(log_path: Path, index: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """Yields "127.0.0.1:PORT" once /readyz answers; the server's log goes to `log_path`.
    Rate limits are off: every simulated shopper comes from this one address."""
    with server_process(log_path, index, env) as (host, _):
        yield host


@contextmanager
def server_process(log_path: Path, index: Path | None = None, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`serve_process`, with the process itself (a test may kill it mid-turn)."""
    port = free_port()
    full_env = {**os.environ, "SHOP_ASSISTANT_RATE_LIMIT": "0", **(env or {})}
    if index is not None:
        full_env["SHOP_ASSISTANT_INDEX"] = str(index)
    exe = Path(sys.executable).parent / "shop-assistant"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    host = f"127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=full_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"the server exited while starting; see {log_path}")
                try:
                    if httpx.get(f"http://{host}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server was not ready within {READY_TIMEOUT_S:.0f} s; see {log_path}")
                time.sleep(1)
            yield host, server
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=60)
