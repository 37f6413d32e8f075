"""Where a turn's time goes: stages timed where they run, reported to whoever is listening.

    record(stage, seconds)     called by the code that did the work (the agent's planning, the
                               retriever's encoding and index queries); free when nobody listens
    listening(listener)        the server's turn worker listens for the length of one turn

The listener is held in a context variable, so a turn's stages reach that turn's listener
only, whichever thread or worker ran it, and the CLI, which never listens, pays nothing.
Owns the stage names; not the metrics (`server.metrics`) nor how a listener aggregates.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# queue: waiting for a turn worker; plan: the planner's reading of the message (rules and the
# exemplar intents' encoding); encode: a search's query vectors (waiting for the shared
# encoding thread included); index: a search's queries to the engine.
TURN_STAGES = ("queue", "plan", "encode", "index")

Listener = Callable[[str, float], None]
_listener: contextvars.ContextVar[Listener | None] = contextvars.ContextVar("stage_listener", default=None)


def record(stage: str, seconds: float) -> None:
    if (listener := _listener.get()) is not None:
        listener(stage, seconds)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)
