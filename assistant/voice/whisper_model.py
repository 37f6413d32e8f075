"""Whisper (faster-whisper) that encodes a window of audio once, however many times it is read.

A spoken search whose words the catalogue does not all know is read by Whisper twice for its
transcript: the text, then the same again with word probabilities (`Transcriber.transcribe`).
Each read ran the encoder on the same 30-second window, a fixed cost whatever the clip's length,
since Whisper reads a whole window. `EncodingOnce` keeps the encoder's outputs of the last few
windows it was given, keyed by the window's own values, so the second read reuses the first's.
(The re-hearing, `rehearing.Rehearing`, reads a window of its own: see there.)

Owns the encoder's reuse; not what is read (`voice.transcriber`, `voice.rehearing`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

REMEMBERED = 4  # windows kept (about 3 MB each): the clips of turns running at once


class EncodingOnce(WhisperModel):
    """A WhisperModel whose `encode` returns the kept output for a window it has just encoded;
    thread-safe (the server's turns share one model)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoded: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, features: np.ndarray) -> Any:
        values = np.ascontiguousarray(features, dtype=np.float32)
        key = hashlib.blake2b(values.tobytes(), digest_size=16, person=str(values.shape).encode()[:16]).digest()
        with self._lock:
            if key in self._encoded:
                self._encoded.move_to_end(key)
                return self._encoded[key]
        # Encoded outside the lock: two turns may encode at once (CTranslate2 queues them).
        encoded = super().encode(features)
        with self._lock:
            self._encoded[key] = encoded
            while len(self._encoded) > REMEMBERED:
                self._encoded.popitem(last=False)
        return encoded
