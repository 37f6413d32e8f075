"""One agent turn run off the event loop, its events delivered as an async stream.

The agent is synchronous and CPU-bound (encoders, index, LLM), so a turn runs in the
services' thread pool and hands each event to the loop as it is made. Cancelling the
consumer (barge-in, a closed socket) sets a flag the worker checks between events and closes
the agent's generator; a turn that has not yet saved its session then leaves it untouched.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Executor

from PIL import Image
from pydantic import BaseModel

from assistant.agent import Agent
from assistant.events import ErrorEvent, Finish

_DONE = object()
log = logging.getLogger(__name__)


async def stream_turn(agent: Agent, pool: Executor, session_id: str, text: str, image: Image.Image | None) -> AsyncIterator[BaseModel]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        events = agent.turn(session_id, text, image)
        try:
            for event in events:
                if stop.is_set():
                    break
                put(event)
        except Exception:  # noqa: BLE001 - a bug in a turn ends that turn with an error event, never the server
            log.exception("turn failed (session %s)", session_id)
            put(ErrorEvent(error_text="Something went wrong on our side; please try again.", code="internal_error", retryable=True))
            put(Finish())
        finally:
            events.close()
            put(_DONE)

    future = loop.run_in_executor(pool, work)
    try:
        while (item := await queue.get()) is not _DONE:
            assert isinstance(item, BaseModel)
            yield item
    finally:
        stop.set()
        # Wait for the worker to notice, so a session is never written by a turn the client
        # has already replaced; shielded so a second cancellation cannot skip the wait.
        await asyncio.shield(future)
