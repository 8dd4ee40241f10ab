"""What serve's supervisors know about their workers, for `/healthz`.

Each supervised thread and dispatcher process reports `up`, `restarting` or `gave_up`; the
HTTP app answers 503 while any of them is not up, so a load balancer or an orchestrator sees
a half-running service as unhealthy instead of trusting a process that merely exists."""

from __future__ import annotations

import threading
from typing import Literal

State = Literal["up", "restarting", "gave_up"]
_states: dict[str, State] = {}
_lock = threading.Lock()


def report(worker: str, state: State) -> None:
    with _lock:
        _states[worker] = state


def forget(worker: str) -> None:
    with _lock:
        _states.pop(worker, None)


def snapshot() -> dict[str, State]:
    with _lock:
        return dict(_states)


def healthy(states: dict[str, State]) -> bool:
    return all(state == "up" for state in states.values())
