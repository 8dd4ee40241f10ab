"""Supervision: a worker that crashes is restarted with backoff, and the service stops only
when one keeps failing for longer than the give-up time (a broker or database down for good).
A broker restart, a PostgreSQL restart or a consumer dropped from its group costs a restart
of that one worker, not the service."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class RestartPolicy:
    base_seconds: float = 1.0
    max_seconds: float = 30.0
    healthy_after_seconds: float = 60.0  # a run this long resets the backoff
    give_up_after_seconds: float = 600.0  # failing continuously this long stops the service
    _failing_since: float | None = field(default=None, init=False)
    _crashes: int = field(default=0, init=False)

    def crashed(self, ran_for: float, now: float | None = None) -> float | None:
        """Record a crash after `ran_for` seconds; the delay before the restart, or None to
        give up."""
        now = time.monotonic() if now is None else now
        if ran_for >= self.healthy_after_seconds or self._failing_since is None:
            self._failing_since, self._crashes = now - ran_for, 0
        self._crashes += 1
        if now - self._failing_since > self.give_up_after_seconds:
            return None
        return float(min(self.max_seconds, self.base_seconds * 2.0 ** (self._crashes - 1)))
