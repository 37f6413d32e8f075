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


def test_chinese_answers_are_spoken_from_pinyin_and_english_names_in_english():
    from assistant.voice.speech import SAMPLE_RATE, Speaker, SpokenAnswer, pinyin

    assert pinyin("我想买") == "wo3 xiang3 mai3"
    speaker = Speaker()
    chinese = speaker.synthesize("为您找到以下商品")
    mixed = speaker.synthesize("为您找到以下商品：Nike Men Black Shoes")
    assert len(chinese) / 2 / SAMPLE_RATE > 1.0, "eight characters take over a second to say"
    assert len(mixed) > len(chinese) * 1.3, "the English product name is spoken too"
    clauses = SpokenAnswer().feed("为您找到以下商品：1. Nike Men Shoes; 2. Puma。共有 50 件")
    assert clauses[0] == "为您找到以下商品：" and clauses[-1] == "2. Puma。"
