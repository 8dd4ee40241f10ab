"""A budget of failed lookups per client, for the routes anyone can call (confirmation links,
Twilio callbacks): each forged token, bad signature or unknown SID spends one; a client whose
budget is spent is answered 429 before anything is looked up, until it refills.

A token bucket per client address, in memory (per process): `burst` failures at once, then
`per_minute`. At most `max_clients` addresses are tracked; the least recently seen is dropped
first. Behind a proxy every client has the proxy's address: give the proxy its own limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import HTTPException, Request


class FailureBudget:
    def __init__(
        self,
        *,
        burst: int,
        per_minute: float,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst, self.rate = float(burst), per_minute / 60.0
        self._max, self._clock = max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def allowed(self, client: str) -> bool:
        """Whether the client may try again (its budget is not spent)."""
        with self._lock:
            return client not in self._buckets or self._tokens(client, self._clock()) >= 1.0

    def failed(self, client: str) -> None:
        """Spend one of the client's budget."""
        with self._lock:
            now = self._clock()
            self._buckets[client] = (max(0.0, self._tokens(client, now) - 1.0), now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)

    def retry_after(self) -> int:
        """Seconds until a spent budget holds one try again."""
        return max(1, int(1.0 / self.rate + 0.999)) if self.rate > 0 else 3600


def client_of(request: Request) -> str:
    return request.client.host if request.client is not None else "-"


def check(budget: FailureBudget | None, request: Request) -> None:
    """Raise 429 when the client has spent its budget of failed lookups."""
    if budget is not None and not budget.allowed(client_of(request)):
        raise HTTPException(
            429, "too many failed requests", headers={"Retry-After": str(budget.retry_after())}
        )


def spend(budget: FailureBudget | None, request: Request) -> None:
    if budget is not None:
        budget.failed(client_of(request))
