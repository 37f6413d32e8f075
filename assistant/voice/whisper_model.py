"""Whisper (faster-whisper) that encodes a window of audio once, however many times it is read.

A spoken search whose words the catalogue does not all know is read by Whisper twice for its
transcript: the text, then the same again with word probabilities (`Transcriber.transcribe`).
Each read ran the encoder on the same 30-second window, a fixed cost whatever the clip's length,
since Whisper reads a whole window. `EncodingOnce` keeps the encoder's outputs of the last few
windows it was given, keyed by the window's own values, so the second read reuses the first's.
(The re-hearing, `rehearing.Rehearing`, reads a window of its own: see there.)

Within `partial()` the window is cut short: the clip so far and a little silence, at least
`PARTIAL_WINDOW_FRAMES`. The encoder's cost grows with the window, not the speech (a 30 s
window about 0.6 s on two cores, a 10 s one under 0.1 s), and a partial transcript while the
shopper speaks is read every second, each on a longer clip. A shortened window reads worse
(the final transcript read that way got the asked kind of product right for 79% of the dev
voice set, against 85% with the whole window), so only partials, which the final transcript
replaces, are read so.

Owns the encoder's reuse and the partials' window; not what is read (`voice.transcriber`, `voice.rehearing`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

REMEMBERED = 4  # windows kept (about 3 MB each): the clips of turns running at once
# A partial's window: at least 10 s (100 frames a second); shorter ones made Whisper repeat
# itself ("A green goo butter." over and over) in a probe of dev clips.
PARTIAL_WINDOW_FRAMES = 1000
PARTIAL_TAIL_FRAMES = 100  # silence kept after the clip so far


class EncodingOnce(WhisperModel):
    """A WhisperModel whose `encode` returns the kept output for a window it has just encoded;
    thread-safe (the server's turns share one model)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoded: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._reading = threading.local()  # per thread: a partial and a final may run at once

    @contextmanager
    def partial(self) -> Iterator[None]:
        """Windows encoded in this thread within the block are cut short (see the module)."""
        self._reading.partial = True
        try:
            yield
        finally:
            self._reading.partial = False

    def encode(self, features: np.ndarray) -> Any:
        if getattr(self._reading, "partial", False):
            # Not remembered: each partial reads a longer clip than the last, so its window is
            # never read again, and kept it would push out a final transcript's window.
            return super().encode(np.ascontiguousarray(_short_window(features), dtype=np.float32))
        values = np.ascontiguousarray(features, dtype=np.float32)
        key = hashlib.blake2b(values.tobytes(), digest_size=16, person=str(values.shape).encode()[:16]).digest()
        with self._lock:
            if key in self._encoded:
                self._encoded.move_to_end(key)
                return self._encoded[key]
        # Encoded outside the lock: two turns may encode at once (CTranslate2 queues them).
        encoded = super().encode(values)
        with self._lock:
            self._encoded[key] = encoded
            while len(self._encoded) > REMEMBERED:
                self._encoded.popitem(last=False)
        return encoded


def _short_window(features: np.ndarray) -> np.ndarray:
    """`features` (mel bins x frames, a window padded with zeros after the clip) cut to the clip,
    `PARTIAL_TAIL_FRAMES` of padding and at least `PARTIAL_WINDOW_FRAMES` (an even count: the
    encoder's first layer halves it)."""
    width = features.shape[-1]
    sound = np.flatnonzero(np.abs(features).reshape(-1, width).max(axis=0) > 0)
    end = int(sound[-1]) + 1 if sound.size else 0
    keep = max(PARTIAL_WINDOW_FRAMES, end + PARTIAL_TAIL_FRAMES)
    keep = min(width, keep + keep % 2)
    return features[..., :keep]
