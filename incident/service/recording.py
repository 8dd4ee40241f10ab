"""Record each accepted message as soon as the provider accepts it.

A crash between a provider's acceptance and the record resends that message after the claim
lease (same Message-ID, so mail systems can fold it). Recording a whole batch at its end made
that window a batch (500 messages a process); here every send waits for its own record before
its connection takes the next message, so a kill -9 resends at most one message per sending
connection. The records are group-committed: whatever was accepted while the previous commit
ran goes in the next one, so the database sees a few commits per round of sends, not one per
message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from incident.service import claims
from incident.service.claims import Outcome

log = structlog.get_logger()
T = TypeVar("T")
GATHER_SECONDS = 0.003
RECORD_TRIES = 6  # 0.2 + 0.4 + ... + 3.2 s: well inside the claim lease


def retried(work: Callable[[], T], *, what: str) -> T:
    """Run a unit of database work, retrying a lost connection or a deadlock on a fresh
    transaction (a restart, a failover) before giving up with the last error."""
    for attempt in range(RECORD_TRIES):
        try:
            return work()
        except OperationalError as exc:
            if attempt == RECORD_TRIES - 1:
                raise
            log.warning(f"{what}_retrying", error=type(exc).__name__, attempt=attempt + 1)
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


class SentRecorder:
    """Group commit of `sent` outcomes; `record` returns once the outcome is committed.

    The commit runs on the event loop's own thread, like the batch's other database work: in a
    second thread every SQLite call would give up the GIL and wait up to a switch interval
    (5 ms) to get it back from the CPU-bound composing loop, ten times per commit."""

    def __init__(self, engine: Engine, *, worker_id: str, clock: Callable[[], datetime]) -> None:
        self._engine, self._worker_id, self._clock = engine, worker_id, clock
        self._pending: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._scheduled: asyncio.Handle | None = None
        self.recorded: set[str] = set()  # idempotency keys committed as sent

    async def record(self, outcome: Outcome, *, senders: int = 1) -> None:
        """Commit once every one of the channel's `senders` waits on its record, or after
        `GATHER_SECONDS`: the window stays one message per connection, the commits few."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((outcome, done))
        if len(self._pending) >= senders:
            if self._scheduled is not None:
                self._scheduled.cancel()
            self._scheduled = loop.call_soon(self._flush)
        elif self._scheduled is None:
            self._scheduled = loop.call_later(GATHER_SECONDS, self._flush)
        await asyncio.shield(done)  # a cancelled sender must not cancel the others' commit

    async def drain(self) -> None:
        """Let the commit already scheduled run (a batch ends once its records are settled)."""
        while self._scheduled is not None:
            await asyncio.sleep(0)

    def forget(self) -> None:
        self.recorded.clear()

    def _flush(self) -> None:
        self._scheduled = None
        batch, self._pending = self._pending, []
        outcomes = [o for o, _ in batch]
        try:
            self._write(outcomes)
        except Exception as exc:  # the batch's end records them (or the lease resends them)
            log.error("record_sent_failed", error=type(exc).__name__, messages=len(batch))
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        self.recorded.update(o.key for o in outcomes)
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    def _write(self, outcomes: list[Outcome]) -> None:
        def once() -> None:
            with Session(self._engine) as session:
                claims.record(session, outcomes, worker_id=self._worker_id, now=self._clock())
                session.commit()

        retried(once, what="record_sent")
