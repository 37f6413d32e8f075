"""A real server for the serving benchmarks: the app under uvicorn on a loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from assistant.config import Settings
from assistant.server.app import create_app

MAX_FRAME_BYTES = 32 * 1024 * 1024


@contextmanager
def running_server(settings: Settings, **app_options: object) -> Iterator[str]:
    """Yields "127.0.0.1:PORT" once the app has loaded its models and index."""
    config = uvicorn.Config(create_app(settings, **app_options), host="127.0.0.1", port=0, log_level="warning", ws_max_size=MAX_FRAME_BYTES)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start (see its log above)")
        time.sleep(0.1)
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
