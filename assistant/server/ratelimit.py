"""Rate limits: one token bucket per client, as pure bookkeeping.

Owns the arithmetic (refill, spend, how long to wait); does not own who a client is (the
access middleware names it: an address, under its API key when keys are on; or a key, for
its quota) nor
what a refusal looks like on the wire (HTTP 429, or a `rate_limited` error event).
Used from the event loop only, so it takes no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_CLIENTS = 10_000  # buckets kept before full ones (which equal no bucket) are forgotten


@dataclass
class _Bucket:
    tokens: float
    at: float  # clock time of `tokens`, in seconds


class RateLimiter:
    """`per_minute` tokens a minute per client, at most `burst` saved up; 0 a minute: no limit."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str, cost: float = 1.0) -> float:
        """Spend `cost` tokens of `client`'s bucket: 0.0 when allowed, else the seconds to wait (nothing spent)."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_CLIENTS:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def refund(self, client: str, cost: float = 1.0) -> None:
        """Give back tokens taken for a request another limit then refused."""
        if (bucket := self._buckets.get(client)) is not None:
            bucket.tokens = min(self.burst, bucket.tokens + cost)

    def _forget_full(self, now: float) -> None:
        full = [c for c, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for client in full:
            del self._buckets[client]
