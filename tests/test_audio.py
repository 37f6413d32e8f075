"""Audio decoding without models: PCM16 bytes to samples, and the limits."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.errors import AudioError, AudioTooLong
from assistant.voice.audio import AudioLimits, decode, pcm16_samples


def test_pcm16_samples_leaves_out_half_a_trailing_sample():
    data = np.array([0, 16384, -32768], dtype="<i2").tobytes()
    assert pcm16_samples(data + b"\x01").tolist() == [0.0, 0.5, -1.0]  # mid-stream: an odd byte waits for its pair
    assert pcm16_samples(b"").size == 0


def test_a_whole_utterance_must_be_whole_samples_and_within_the_limits():
    with pytest.raises(AudioError, match="even number of bytes"):
        decode(b"\0\0\0", "pcm16", AudioLimits())
    with pytest.raises(AudioTooLong):
        decode(b"\0\0" * 16000 * 3, "pcm16", AudioLimits(max_seconds=2.0))
