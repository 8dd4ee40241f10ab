"""Notice jobs through the outbox: a job is stored in the transaction that creates its notice,
and the relay publishes it within its poll interval (0.2 s), so a public notice, a regulator
report or a requeued notice leaves at once and survives a crash between commit and publish.
The sweep stays a safety net only.

Service code does not know the configured topic names: rows name the logical topic
`NOTICES`, which the relay resolves to `kafka.notices_topic`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from incident.adapters.tables import Notice, Outbox
from incident.domain.messages import encode_job
from incident.domain.model import NoticeJob

NOTICES = "@notices"


def enqueue_jobs(session: Session, jobs: Iterable[NoticeJob]) -> int:
    """Add an outbox row per job to the session (the caller commits); returns how many."""
    count = 0
    for job in jobs:
        key, value = encode_job(job)
        session.add(Outbox(topic=NOTICES, key=key, payload=value))
        count += 1
    return count


def job_of(notice: Notice) -> NoticeJob:
    return NoticeJob(notice.incident_id, notice.addressee_id, notice.version, notice.addressee_kind)


def enqueue_notices(session: Session, notices: Iterable[Notice]) -> int:
    return enqueue_jobs(session, (job_of(n) for n in notices))
