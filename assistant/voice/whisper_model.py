"""Whisper (faster-whisper) that encodes a clip once, however many times it is read.

A spoken search whose words the catalogue does not all know is read by Whisper up to three
times: the transcript, the same again with word probabilities (`Transcriber.transcribe`), and
once more to hear it with the catalogue's terms (`rehearing.Rehearing`). Each read ran the
encoder on the same 30-second window, a fixed cost whatever the clip's length, since Whisper
reads a whole window. `EncodingOnce` keeps the encoder's outputs of the last few windows it
was given, keyed by the window's own values, so the later reads of a clip reuse the first
one's; `window` gives a clip's first window exactly as `WhisperModel.transcribe` encodes it,
so the re-hearing's read is a hit too.

Owns the encoder's reuse; not what is read (`voice.transcriber`, `voice.rehearing`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim

FRAMES = 3000  # one 30-second window of log-mel frames, what Whisper's encoder reads
REMEMBERED = 4  # windows kept (about 3 MB each): the clips of turns running at once


def window(features: np.ndarray) -> np.ndarray:
    """The first window of a clip's log-mel `features` as `WhisperModel.transcribe` encodes it:
    its frames but the last (the feature extractor's padding), zero-padded to `FRAMES`."""
    return pad_or_trim(features[..., : min(FRAMES, features.shape[-1] - 1)])


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
