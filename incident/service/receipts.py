"""What became of a delivery after the provider took it: delivered, bounced, undelivered,
confirmed by the recipient. Each receipt is a stored transition (time, source, detail); a
delivery that came back moves the person to their next channel; every receipt is an event.

Receipts find their delivery by idempotency key, by the provider's id or by the Message-ID,
whichever the source knows (Twilio's status callback carries the message SID; a print house
returns letter ids; a bounce report quotes the original Message-ID).

A delay report (`delayed`) is kept as an event only: the delivery is still under way. A
confirmation settles the person: their notice is `confirmed`, and any other attempt of it still
waiting as `retry` on a later channel is stopped (`failed`, "confirmed on <channel>"), so nobody
gets a letter after they confirmed the email.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.db import lock_for_update
from incident.adapters.tables import ContactPoint, DeliveryAttempt, DeliveryEvent, Notice
from incident.domain.events import ConfirmationReceived, Event, ReceiptReceived
from incident.domain.model import RETURNED, AttemptStatus, NoticeJob, NoticeStatus
from incident.errors import InvalidInput, NotFound, Unverified
from incident.service import bus
from incident.service.job_outbox import enqueue_jobs

log = structlog.get_logger()

# A later state never goes back to an earlier one (a late "delivered" after "confirmed").
_RANK = {
    AttemptStatus.SENT: 1,
    AttemptStatus.DELIVERED: 2,
    AttemptStatus.CONFIRMED: 3,
    AttemptStatus.BOUNCED: 2,
    AttemptStatus.UNDELIVERED: 2,
    AttemptStatus.FAILED: 2,
    AttemptStatus.DELAYED: 0,  # never applied: stored as an event only
}
_NOTICE_STATE = {
    AttemptStatus.DELIVERED: NoticeStatus.DELIVERED,
    AttemptStatus.CONFIRMED: NoticeStatus.CONFIRMED,
}


# What a source checks of the delivery its receipt names: None when it verifies, else the
# Unverified it is refused with (a bounce's Message-ID, a return file's letter id).
Verify = Callable[[DeliveryAttempt], Unverified | None]


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    key: str
    status: str
    applied: bool  # False: a stale or repeated receipt, stored as an event only
    requeue: NoticeJob | None = None  # the person moves on to their next channel


def find_attempt(
    session: Session,
    *,
    key: str | None = None,
    provider_id: str | None = None,
    message_id: str | None = None,
) -> DeliveryAttempt:
    if key:
        attempt = session.get(DeliveryAttempt, key)
    elif provider_id:
        attempt = session.exec(
            select(DeliveryAttempt).where(DeliveryAttempt.provider_id == provider_id)
        ).first()
    elif message_id:
        bare = message_id.strip().removeprefix("<").removesuffix(">")
        attempt = session.exec(
            select(DeliveryAttempt).where(DeliveryAttempt.message_id == bare)
        ).first()
    else:
        raise InvalidInput("receipt", None, "needs an idempotency key, provider id or Message-ID")
    if attempt is None:
        raise NotFound("delivery", key or provider_id or message_id or "")
    return attempt


def _by_key(key: str) -> Any:
    return DeliveryAttempt.idempotency_key == key


def apply_receipt(
    engine: Engine,
    *,
    status: AttemptStatus,
    source: str,
    now: datetime,
    key: str | None = None,
    provider_id: str | None = None,
    message_id: str | None = None,
    detail: dict[str, Any] | None = None,
    verify: Verify | None = None,
    once: bool = False,
) -> ReceiptOutcome:
    """Store the transition and act on it; `requeue` (the person moves on) is queued through
    the outbox in the same transaction, so it leaves within the relay's poll interval. With
    `verify`, a delivery that does not verify raises its Unverified and nothing is stored.
    With `once` (by key only), a receipt repeating the delivery's state stores nothing: the
    delivery is locked while it is read, so replays racing each other record it once."""
    if status not in _RANK or status is AttemptStatus.SENT:
        said = sorted(s.value for s in _RANK if s is not AttemptStatus.SENT)
        raise InvalidInput("status", status, f"a receipt says one of {said}")
    with Session(engine) as session:
        if once and key:
            locked = lock_for_update(session, select(DeliveryAttempt).where(_by_key(key)))
            attempt = session.exec(locked).first() or find_attempt(session, key=key)
            if attempt.status == status.value:
                return ReceiptOutcome(attempt.idempotency_key, status.value, False)
        else:
            attempt = find_attempt(session, key=key, provider_id=provider_id, message_id=message_id)
        if verify is not None and (refused := verify(attempt)) is not None:
            raise refused
        current = AttemptStatus(attempt.status)
        applied = status is not AttemptStatus.DELAYED and (
            _RANK.get(current, 0) < _RANK[status]
            or (current in (AttemptStatus.SENT, AttemptStatus.DELIVERED) and status in RETURNED)
        )
        session.add(
            DeliveryEvent(
                idempotency_key=attempt.idempotency_key,
                status=status.value,
                source=source,
                at=now,
                detail=detail or {},
            )
        )
        requeue = None
        if applied:
            attempt.status, attempt.updated_at = status.value, now
            if status in RETURNED:
                attempt.error = f"{status.value} ({source}): {(detail or {}).get('reason', '')}"
                requeue = _return(session, attempt, now)
                if requeue is not None:  # stored with the receipt: the relay publishes it
                    enqueue_jobs(session, [requeue])
            else:
                _advance_notice(session, attempt, _NOTICE_STATE.get(status), now)
            if status is AttemptStatus.CONFIRMED:
                _stop_chain(session, attempt, source, now)
            session.add(attempt)
        events: list[Event] = [
            ReceiptReceived(attempt.incident_id, attempt.idempotency_key, status.value, source)
        ]
        if status is AttemptStatus.CONFIRMED:
            events.append(
                ConfirmationReceived(attempt.incident_id, attempt.idempotency_key, source)
            )
        bus.handle(session, events, now=now)
        session.commit()
        log.info(
            "receipt",
            incident_id=attempt.incident_id,
            status=status.value,
            source=source,
            applied=applied,
        )
        return ReceiptOutcome(attempt.idempotency_key, status.value, applied, requeue)


def _advance_notice(
    session: Session, attempt: DeliveryAttempt, state: NoticeStatus | None, now: datetime
) -> None:
    if state is None:
        return
    notice = _notice_of(session, attempt)
    if notice is None or notice.status == NoticeStatus.CONFIRMED:
        return  # confirmed is final: a late "delivered" of another channel changes nothing
    # The person confirming settles even a notice given up as unreachable: they have it.
    if notice.status != NoticeStatus.UNREACHABLE or state is NoticeStatus.CONFIRMED:
        notice.status, notice.updated_at = state.value, now
        session.add(notice)


def _stop_chain(session: Session, attempt: DeliveryAttempt, source: str, now: datetime) -> None:
    """The rest of the person's chain is skipped: attempts of the same notice still waiting to
    be tried again on another channel are given up, each with its own event."""
    waiting = session.exec(
        select(DeliveryAttempt).where(
            DeliveryAttempt.incident_id == attempt.incident_id,
            DeliveryAttempt.addressee_kind == attempt.addressee_kind,
            DeliveryAttempt.addressee_id == attempt.addressee_id,
            DeliveryAttempt.notice_version == attempt.notice_version,
            DeliveryAttempt.idempotency_key != attempt.idempotency_key,
            col(DeliveryAttempt.status).in_(
                [AttemptStatus.RETRY.value, AttemptStatus.SCHEDULED.value]
            ),
        )
    ).all()
    reason = f"confirmed on {attempt.channel}"
    for other in waiting:
        # A retry is closed as failed; an escalation timer is cancelled: neither goes out now.
        stopped = (
            AttemptStatus.CANCELLED
            if other.status == AttemptStatus.SCHEDULED.value
            else AttemptStatus.FAILED
        )
        other.status, other.error, other.updated_at = stopped.value, reason, now
        other.not_before = None
        session.add(other)
        session.add(
            DeliveryEvent(
                idempotency_key=other.idempotency_key,
                status=AttemptStatus.FAILED.value,
                source=source,
                at=now,
                detail={"reason": reason},
            )
        )


def _return(session: Session, attempt: DeliveryAttempt, now: datetime) -> NoticeJob | None:
    """Came back: the contact point is unusable, the notice pending again for the next channel."""
    if attempt.contact_point_id is not None:
        point = session.get(ContactPoint, attempt.contact_point_id)
        if point is not None:
            point.problem, point.checked_at = f"{attempt.status}: returned", now
            session.add(point)
    notice = _notice_of(session, attempt)
    if notice is None or notice.status == NoticeStatus.CONFIRMED:
        return None  # the person confirmed on another channel: nothing more to send
    notice.status, notice.channel, notice.updated_at = NoticeStatus.PENDING.value, None, now
    session.add(notice)
    return NoticeJob(
        attempt.incident_id, attempt.addressee_id, attempt.notice_version, attempt.addressee_kind
    )


def _notice_of(session: Session, attempt: DeliveryAttempt) -> Notice | None:
    return session.exec(
        select(Notice).where(
            Notice.incident_id == attempt.incident_id,
            Notice.addressee_kind == attempt.addressee_kind,
            Notice.addressee_id == attempt.addressee_id,
            Notice.version == attempt.notice_version,
        )
    ).first()


def history(engine: Engine, key: str) -> list[DeliveryEvent]:
    """Every state of one delivery, oldest first."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(DeliveryEvent)
                .where(DeliveryEvent.idempotency_key == key)
                .order_by(col(DeliveryEvent.at), col(DeliveryEvent.id))
            ).all()
        )
