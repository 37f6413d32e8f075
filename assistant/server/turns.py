"""One agent turn run off the event loop, its events delivered as an async stream.

The agent is synchronous and CPU-bound (encoders, index, LLM), so a turn runs in the
services' thread pool and hands each event to the loop as it is made. Cancelling the
consumer (barge-in, a closed socket) sets a flag the worker checks between events and closes
the agent's generator; a turn that has not yet saved its session then leaves it untouched.
An optional `ops.TurnWatch` sees every event go by (stage latencies, the outcome) and lets
a draining server end the turn early with `server_shutting_down`; it also hears the turn's
inner stages (`assistant.stages`: the wait for a worker, planning, encoding, the index). The
worker runs in a copy of the caller's context, so its log records carry the request and
session ids.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from contextlib import nullcontext
from typing import TYPE_CHECKING

from PIL import Image
from pydantic import BaseModel

from assistant import stages
from assistant.agent import Agent
from assistant.events import ErrorEvent, Finish

if TYPE_CHECKING:
    from assistant.server.ops import TurnWatch
    from assistant.video.decode import DecodedClip
    from assistant.voice.hearing import Doubt

_DONE = object()
_INTERRUPT = object()  # the drain's signal: end the turn now
log = logging.getLogger(__name__)


async def stream_turn(
    agent: Agent,
    pool: Executor,
    session_id: str,
    text: str,
    image: Image.Image | None,
    watch: TurnWatch | None = None,
    doubt: Doubt | None = None,
    video: DecodedClip | None = None,
) -> AsyncIterator[BaseModel]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        if watch is not None:
            watch.stage("queue", time.perf_counter() - submitted)
        events = agent.turn(session_id, text, image, doubt, video)
        try:
            with stages.listening(watch.stage) if watch is not None else nullcontext():
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

    submitted = time.perf_counter()
    future = loop.run_in_executor(pool, contextvars.copy_context().run, work)
    try:
        if watch is not None:
            watch.begin(interrupt=lambda: queue.put_nowait(_INTERRUPT))
        while (item := await queue.get()) is not _DONE:
            if item is _INTERRUPT:
                assert watch is not None
                stop.set()
                for event in watch.shutdown_events():
                    watch.saw(event)
                    yield event
                break
            assert isinstance(item, BaseModel)
            if watch is not None:
                watch.saw(item)
            yield item
    finally:
        stop.set()
        if watch is not None:
            watch.end()
        # Wait for the worker to notice, so a session is never written by a turn the client
        # has already replaced; shielded so a second cancellation cannot skip the wait.
        await asyncio.shield(future)
