"""What every fault test asserts, and the pieces to run the real pipeline under a fault.

The checks are made where a person would notice: at the SMTP server, by Message-ID. A resend
of the same message (same Message-ID, inside the claim window) is tolerated; two different
notices to one person, a missing one or a person marked unreachable by the fault are not.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import DeliveryAttempt, Notice
from incident.bootstrap import Runtime
from incident.entrypoints.workers import run_all
from incident.service.dispatch import BatchResult
from incident.service.progress import NoticeCounts, notice_counts
from tests.support.smtp import RecordingSMTPServer


def message_ids_by_recipient(smtp: RecordingSMTPServer) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for received in smtp.messages:
        message = message_from_bytes(received.data, policy=policy.default)
        for rcpt in received.rcpt_tos:
            out[rcpt.lower()].add(str(message["Message-ID"]))
    return dict(out)


def assert_each_notified_once(smtp: RecordingSMTPServer, emails: Iterable[str]) -> None:
    """Every address got exactly one distinct notice, and nobody else got any."""
    wanted = {e.lower() for e in emails}
    got = message_ids_by_recipient(smtp)
    missing = sorted(wanted - got.keys())
    assert not missing, f"{len(missing)} never got a notice, e.g. {missing[:3]}"
    twice = {r: ids for r, ids in got.items() if len(ids) != 1}
    assert not twice, f"{len(twice)} got more than one notice, e.g. {list(twice.items())[:2]}"
    strangers = sorted(got.keys() - wanted)
    assert not strangers, f"mail to addresses outside the incident: {strangers[:3]}"


def notice_statuses(engine: Engine, incident_id: str) -> Counter[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(Notice.status).where(
                Notice.incident_id == incident_id, Notice.addressee_kind == "person"
            )
        ).all()
    return Counter(rows)


def assert_nobody_unreachable(engine: Engine, incident_id: str, expected: int) -> None:
    statuses = notice_statuses(engine, incident_id)
    assert statuses == Counter({"sent": expected}), statuses


def held_for_the_channel(engine: Engine, incident_id: str) -> int:
    """Attempts waiting for their channel after a channel fault (no try spent)."""
    with Session(engine) as session:
        errors = session.exec(
            select(DeliveryAttempt.error).where(
                DeliveryAttempt.incident_id == incident_id, DeliveryAttempt.status == "retry"
            )
        ).all()
    return sum(1 for e in errors if e and ("channel fault" in e or "channel down" in e))


def wait_for(
    what: str,
    predicate: Callable[[], bool],
    threads: list[threading.Thread],
    timeout: float = 30,
) -> None:
    """Wait until `predicate` holds, failing early if a worker dies."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert_running(threads)
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def settle(
    rt: Runtime,
    incident_id: str,
    expected: int,
    threads: list[threading.Thread],
    timeout: float = 30,
) -> NoticeCounts:
    """Wait until the incident's `expected` notices are settled; fail at once if a worker dies."""

    def settled() -> bool:
        counts = notice_counts(rt.engine, incident_id)
        return counts.affected == expected and counts.done

    wait_for(f"{expected} notices to settle", settled, threads, timeout=timeout)
    return notice_counts(rt.engine, incident_id)


def assert_no_tries_spent(engine: Engine, incident_id: str) -> None:
    """A channel fault spends nobody's tries: each attempt went out on its first counted try."""
    with Session(engine) as session:
        tries = session.exec(
            select(DeliveryAttempt.tries).where(
                DeliveryAttempt.incident_id == incident_id,
                DeliveryAttempt.addressee_kind == "person",
            )
        ).all()
    assert Counter(tries).keys() == {1}, Counter(tries)


@contextmanager
def service(
    rt: Runtime, *, dispatchers: int = 1, on_batch: Callable[[BatchResult], None] | None = None
) -> Iterator[list[threading.Thread]]:
    """The service's own workers (relay, enricher, dispatchers) in threads of this process."""
    stop = threading.Event()
    threads = run_all(rt, stop, dispatchers=dispatchers, on_batch=on_batch)
    try:
        yield threads
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def assert_running(threads: list[threading.Thread]) -> None:
    crashed = [t.name for t in threads if getattr(t, "crashed", False) or not t.is_alive()]
    assert not crashed, f"workers stopped: {crashed}"


def pause(seconds: float, threads: list[threading.Thread]) -> None:
    """Sleep while the fault lasts, failing early if a worker dies meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert_running(threads)
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
