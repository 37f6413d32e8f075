"""Concurrent turns' query texts encoded together, in one forward pass per encoder.

A shopper's query is a handful of tokens: on this CPU a MiniLM or CLIP text tower spends
5-7 ms on one such text alone and 1-1.5 ms a text in a batch of twenty (the per-call cost is
Python and operator dispatch, not arithmetic). Under fifty concurrent sessions the server's
turn workers each called the encoders on their own and queued behind one another; here they
hand their texts to one encoding thread per encoder, which takes everything waiting when it
is free and runs it as one batch. A lone turn waits for no timer: its batch is itself.

    BatchingTextEncoder(inner)        a `TextEncoder`; small calls are batched, large ones
                                      (a whole catalogue at ingest) go straight to `inner`
    BatchingImageTextEncoder(inner)   the same for a CLIP: texts batched, images passed through
    encode_soon(encoder, texts)       start an encoding now, wait for it later (a search starts
                                      its text encoder before its CLIP's, so both run at once)

Owns the encoding thread and its queue; not the model (the inner encoder's) and not torch's
thread settings (the composition root's). Built by the server's composition root only: the CLI
runs one turn at a time and gains nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from assistant.encoders.base import ImageTextEncoder, TextEncoder
from assistant.errors import ModelError

MAX_BATCH_TEXTS = 64  # one forward pass at most; a query call above this is not a query
WAIT_S = 120.0  # a caller gives up on a wedged encoding thread after this (a bug, not load)


@dataclass
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None


class TextBatcher:
    """The queue and the thread behind one encoder's `encode_text`."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], dim: int, name: str, max_texts: int = MAX_BATCH_TEXTS) -> None:
        self._encode = encode
        self.dim = dim
        self.max_texts = max_texts
        self.batches = 0  # forward passes run, and the texts they held (for tests and metrics)
        self.texts_encoded = 0
        self._pending: list[_Request] = []
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"encode-{name}", daemon=True)
        self._thread.start()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.submit(texts)()

    def submit(self, texts: Sequence[str]) -> Callable[[], np.ndarray]:
        """Queue `texts` now; the returned call waits for their rows (so a caller can start
        two encoders' work before waiting for either)."""
        texts = list(texts)
        if not texts:
            return lambda: np.zeros((0, self.dim), np.float32)
        if len(texts) > self.max_texts:
            return lambda: self._encode(texts)  # already a batch: nothing to gain from waiting for others
        req = _Request(texts)
        with self._cv:
            if self._closed:
                raise ModelError("the text encoder is shut down (the server is stopping)")
            self._pending.append(req)
            self._cv.notify()
        return lambda: self._wait(req)

    def _wait(self, req: _Request) -> np.ndarray:
        if not req.done.wait(WAIT_S):
            raise ModelError(f"the text encoder did not answer within {WAIT_S:.0f} s")
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def close(self) -> None:
        """Stop the thread once the texts already queued are encoded."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout=WAIT_S)

    def _take(self) -> list[_Request] | None:
        """Everything waiting, up to `max_texts` texts (whole requests: one is never split)."""
        with self._cv:
            while not self._pending and not self._closed:
                self._cv.wait()
            if not self._pending:
                return None
            taken, n = [], 0
            while self._pending and (not taken or n + len(self._pending[0].texts) <= self.max_texts):
                req = self._pending.pop(0)
                taken.append(req)
                n += len(req.texts)
            return taken

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            # Shoppers repeat each other ("sneakers"); a text asked twice in a batch is encoded once.
            unique = list(dict.fromkeys(t for req in batch for t in req.texts))
            try:
                vectors = self._encode(unique)
            except BaseException as e:  # noqa: BLE001 - every waiting caller gets the encoder's own error
                for req in batch:
                    req.error = e
                    req.done.set()
                continue
            row = {t: i for i, t in enumerate(unique)}
            self.batches += 1
            self.texts_encoded += len(unique)
            for req in batch:
                req.result = vectors[[row[t] for t in req.texts]]
                req.done.set()


class BatchingTextEncoder:
    """A `TextEncoder` whose concurrent small calls share forward passes."""

    def __init__(self, inner: TextEncoder, name: str = "text") -> None:
        self.inner = inner
        self.dim = inner.dim
        self.batcher = TextBatcher(inner.encode_text, inner.dim, name)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.batcher.encode_text(texts)

    def submit(self, texts: Sequence[str]) -> Callable[[], np.ndarray]:
        return self.batcher.submit(texts)

    def close(self) -> None:
        self.batcher.close()


def encode_soon(encoder: TextEncoder, texts: Sequence[str]) -> Callable[[], np.ndarray]:
    """Start encoding `texts` now where the encoder can (a batching one queues them at once)
    and return the call that waits for the rows; any other encoder encodes when called."""
    if isinstance(encoder, BatchingTextEncoder):
        return encoder.submit(texts)
    return lambda: encoder.encode_text(texts)


class BatchingImageTextEncoder(BatchingTextEncoder):
    """An `ImageTextEncoder` (CLIP) with batched texts; a shopper's photo is encoded as sent."""

    def __init__(self, inner: ImageTextEncoder, name: str = "clip") -> None:
        super().__init__(inner, name)
        self.image_inner = inner

    def encode_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.image_inner.encode_image(images)
