"""A token bucket per (channel, sender): providers' rate limits, kept by this process.

Pure: the caller passes a clock (monotonic seconds). `reserve()` takes one token now, going into
debt when the bucket is empty, and says how long to wait before using it; concurrent senders
therefore queue up at exactly `rate` per second after an initial `burst`. A provider's
throttling answer (HTTP 429) calls `slow_down()`: the rate drops by `factor` (at most once per
`cooldown` seconds, since every message in flight sees the same 429) and then climbs back to the
configured rate linearly, by `recovery` × rate per second.

The limit is per process. With N dispatcher processes sharing one provider account, give each
rate/N (`dispatch.processes = N`: the Dispatcher divides every configured rate by it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second, as configured
    burst: float = 1.0  # tokens a full bucket holds
    clock: Callable[[], float] = field(default=lambda: 0.0)
    floor: float = 1 / 64  # the slowest rate `slow_down` goes to, as a share of `rate`
    recovery: float = 0.1  # share of `rate` regained per second after a slow-down
    cooldown: float = 1.0  # seconds during which further slow-downs are ignored
    current: float = field(init=False)
    _tokens: float = field(init=False)
    _at: float = field(init=False)
    _slowed_at: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1 (got {self.rate}, {self.burst})")
        self.current, self._tokens, self._at = self.rate, self.burst, self.clock()

    def reserve(self) -> float:
        """Take one token; the seconds to wait before it may be used (0.0: now)."""
        self._refill(self.clock())
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.current

    def slow_down(self, factor: float = 0.5) -> bool:
        """The provider throttled us: lower the rate. False when within the cooldown."""
        now = self.clock()
        if self._slowed_at is not None and now - self._slowed_at < self.cooldown:
            return False
        self._refill(now)
        self.current = max(self.rate * self.floor, self.current * factor)
        self._slowed_at = now
        return True

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._at)
        self._at = now
        if elapsed == 0.0:
            return
        before = self.current
        if before < self.rate:  # linear climb back to the configured rate
            self.current = min(self.rate, before + self.rate * self.recovery * elapsed)
        self._tokens = min(self.burst, self._tokens + elapsed * (before + self.current) / 2)


def per_process(rate: float | None, processes: int) -> float | None:
    """A configured provider rate shared by `processes` dispatcher processes."""
    return None if rate is None else rate / max(1, processes)
