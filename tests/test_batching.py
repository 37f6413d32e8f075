"""Concurrent turns' query texts encoded together: each caller gets its own rows, fewer forward
passes run under concurrency, an encoder's failure reaches every caller, and the real encoders
give the same vectors batched as alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from assistant.encoders.batching import BatchingImageTextEncoder, BatchingTextEncoder, TextBatcher
from assistant.errors import ModelError


class SlowHashEncoder:
    """A deterministic text encoder (each text's vector from its characters) that takes a few
    milliseconds a call, as a real forward pass does, and records the batches it was given."""

    dim = 8

    def __init__(self, seconds: float = 0.01) -> None:
        self.seconds = seconds
        self.calls: list[list[str]] = []
        self.fail = False

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        time.sleep(self.seconds)
        if self.fail:
            raise ModelError("the model file went missing")
        return np.array([[float((ord(t[i % len(t)]) * (i + 1)) % 97) for i in range(self.dim)] for t in texts], np.float32)


def test_every_caller_gets_the_rows_of_its_own_texts_in_order() -> None:
    inner = SlowHashEncoder()
    enc = BatchingTextEncoder(inner)
    try:
        asks = [[f"query {i}", f"other {i % 3}"] for i in range(24)]
        with ThreadPoolExecutor(12) as pool:
            got = list(pool.map(enc.encode_text, asks))
        for texts, rows in zip(asks, got, strict=True):
            np.testing.assert_array_equal(rows, inner.encode_text(texts))
    finally:
        enc.close()


def test_concurrent_calls_share_forward_passes_and_a_repeated_text_is_encoded_once() -> None:
    inner = SlowHashEncoder(seconds=0.05)
    enc = BatchingTextEncoder(inner)
    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: enc.encode_text(["sneakers" if i % 2 else f"shirt {i}"]), range(16)))
        # 16 callers arriving while a 50 ms pass runs: far fewer passes than callers
        assert len(inner.calls) <= 4
        assert all(len(call) == len(set(call)) for call in inner.calls)
        assert enc.batcher.texts_encoded < 16
    finally:
        enc.close()


def test_a_lone_call_waits_for_no_one() -> None:
    inner = SlowHashEncoder(seconds=0.0)
    enc = BatchingTextEncoder(inner)
    try:
        started = time.perf_counter()
        for _ in range(50):
            enc.encode_text(["red sneakers"])
        assert len(inner.calls) == 50  # one pass per call: nothing held back for company
        assert time.perf_counter() - started < 5.0  # generous: a timer-based batcher would wait per call
    finally:
        enc.close()


def test_a_large_call_goes_straight_to_the_encoder_as_one_batch() -> None:
    inner = SlowHashEncoder(seconds=0.0)
    batcher = TextBatcher(inner.encode_text, inner.dim, "test", max_texts=4)
    try:
        texts = [f"product {i}" for i in range(10)]
        np.testing.assert_array_equal(batcher.encode_text(texts), inner.encode_text(texts))
        assert batcher.batches == 0
    finally:
        batcher.close()


def test_an_encoder_failure_reaches_every_waiting_caller_and_the_next_call_works() -> None:
    inner = SlowHashEncoder(seconds=0.02)
    enc = BatchingTextEncoder(inner)
    try:
        inner.fail = True
        errors: list[BaseException] = []

        def ask(i: int) -> None:
            try:
                enc.encode_text([f"q{i}"])
            except ModelError as e:
                errors.append(e)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(errors) == 6 and all("went missing" in e.message for e in errors)
        inner.fail = False
        assert enc.encode_text(["q"]).shape == (1, inner.dim)
    finally:
        enc.close()


def test_a_closed_encoder_refuses_in_words_and_empty_input_needs_no_pass() -> None:
    inner = SlowHashEncoder(seconds=0.0)
    enc = BatchingTextEncoder(inner)
    assert enc.encode_text([]).shape == (0, inner.dim)
    enc.close()
    with pytest.raises(ModelError, match="shut down"):
        enc.encode_text(["anything"])
    assert inner.calls == []


@pytest.mark.model
def test_the_real_encoders_give_the_same_vectors_batched_as_alone() -> None:
    from assistant.config import Settings
    from assistant.runtime import load_encoders

    enc = load_encoders(Settings())
    queries = ["red sneakers for men", "a black leather wallet", "kurtas", "formal shirts for women in navy blue", "watch"]
    for inner, batched in ((enc.text, BatchingTextEncoder(enc.text)), (enc.clip, BatchingImageTextEncoder(enc.clip))):
        try:
            alone = np.concatenate([inner.encode_text([q]) for q in queries])
            with ThreadPoolExecutor(len(queries)) as pool:
                together = np.concatenate(list(pool.map(lambda q: batched.encode_text([q]), queries)))  # noqa: B023 - used at once
            # padding to the batch's longest text changes nothing the masks let through
            np.testing.assert_allclose(together, alone, atol=1e-4)
        finally:
            batched.close()


def test_the_serving_settings_read_from_the_environment_and_refuse_nonsense() -> None:
    from assistant.config import Settings
    from assistant.errors import ConfigError

    s = Settings.from_env({"SHOP_ASSISTANT_TURN_WORKERS": "12", "SHOP_ASSISTANT_BATCH_ENCODING": "0"})
    assert (s.turn_workers, s.batch_encoding) == (12, False)
    assert Settings.from_env({}).batch_encoding is True
    with pytest.raises(ConfigError, match="TURN_WORKERS"):
        Settings.from_env({"SHOP_ASSISTANT_TURN_WORKERS": "0"})
    with pytest.raises(ConfigError, match="BATCH_ENCODING"):
        Settings.from_env({"SHOP_ASSISTANT_BATCH_ENCODING": "yes"})
