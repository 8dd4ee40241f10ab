"""A circuit breaker per channel: a channel fault stops sending on that channel, and a probe
after a cooldown finds out when it is back. Pure: the caller passes the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"  # healthy: send
    OPEN = "open"  # faulty: hold every message until `reopen_at`
    HALF_OPEN = "half_open"  # cooldown over: one probe message decides


@dataclass
class CircuitBreaker:
    channel: str
    base_cooldown: float = 2.0
    max_cooldown: float = 60.0
    state: BreakerState = BreakerState.CLOSED
    reopen_at: datetime | None = None
    cause: str | None = None
    faults_in_row: int = 0

    def admits(self, now: datetime) -> int | None:
        """How many messages may go now: None = all, 1 = a probe, 0 = none."""
        if self.state is BreakerState.CLOSED:
            return None
        if self.reopen_at is not None and now >= self.reopen_at:
            self.state = BreakerState.HALF_OPEN
            return 1
        return 0 if self.state is BreakerState.OPEN else 1

    def fault(self, cause: str, now: datetime) -> bool:
        """Record a channel fault; True when this opens the breaker (log the outage once)."""
        opening = self.state is BreakerState.CLOSED
        self.faults_in_row += 1
        cooldown = min(self.max_cooldown, self.base_cooldown * 2 ** (self.faults_in_row - 1))
        self.state, self.cause = BreakerState.OPEN, cause
        self.reopen_at = now + timedelta(seconds=cooldown)
        return opening

    def success(self) -> bool:
        """Record a delivery the channel took; True when this closes an open breaker."""
        recovered = self.state is not BreakerState.CLOSED
        self.state, self.reopen_at, self.cause, self.faults_in_row = (
            BreakerState.CLOSED,
            None,
            None,
            0,
        )
        return recovered

    def held_until(self, now: datetime) -> datetime:
        return self.reopen_at or now
