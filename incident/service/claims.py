"""Claim-before-send on the DeliveryAttempt table (DESIGN §2).

A key is claimed by inserting it as `sending` (or taking over a stale `sending` claim of a dead
worker, a `retry` whose `not_before` has passed, or an escalation timer (`scheduled`) that
planning found due: planning, not the row's time, decides when a step fires). Only the
claimant sends; everyone else skips. A crash between claim and record leaves `sending` rows
whose lease expires; the next claimant resends with the same Message-ID, so the receiving side
can recognise the duplicate.
Every recorded state is also a `DeliveryEvent` row: what happened, when, and who said so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, update
from sqlmodel import Session, col, select

from incident.adapters.db import insert_ignoring_duplicates
from incident.adapters.tables import ContactPoint, DeliveryAttempt, DeliveryEvent, Notice
from incident.domain.escalation import CANCELLED, SCHEDULED
from incident.domain.model import AttemptStatus, DeliverySource, NoticeStatus


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    key: str
    incident_id: str
    person_id: str  # the addressee's id
    channel: str
    notice_version: int
    message_id: str
    addressee_kind: str = "person"
    contact_point_id: int | None = None


def _attempt_row(
    r: ClaimRequest,
    status: str,
    worker_id: str,
    tries: int,
    at: datetime,
    *,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    return {
        "idempotency_key": r.key,
        "incident_id": r.incident_id,
        "addressee_kind": r.addressee_kind,
        "addressee_id": r.person_id,
        "person_id": r.person_id if r.addressee_kind == "person" else None,
        "channel": r.channel,
        "contact_point_id": r.contact_point_id,
        "notice_version": r.notice_version,
        "status": status,
        "message_id": r.message_id,
        "worker_id": worker_id,
        "tries": tries,
        "claimed_at": at,
        "not_before": not_before,
    }


def claim(
    session: Session,
    requests: list[ClaimRequest],
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> set[str]:
    """Returns the keys this worker now owns. The caller commits before sending."""
    if not requests:
        return set()
    insert_ignoring_duplicates(
        session,
        DeliveryAttempt,
        [_attempt_row(r, AttemptStatus.SENDING.value, worker_id, 1, now) for r in requests],
    )
    keys = [r.key for r in requests]
    table = DeliveryAttempt.__table__  # type: ignore[attr-defined]
    takeover = or_(
        and_(table.c.status == AttemptStatus.SENDING.value, table.c.claimed_at < now - lease),
        # Our own earlier run died between claim and record (a worker handles one batch at a
        # time, so a `sending` row of ours is never in flight): resend with the same Message-ID.
        and_(
            table.c.status == AttemptStatus.SENDING.value,
            table.c.worker_id == worker_id,
            table.c.claimed_at < now,
        ),
        and_(
            table.c.status == AttemptStatus.RETRY.value,
            or_(table.c.not_before.is_(None), table.c.not_before <= now),
        ),
        table.c.status == SCHEDULED,
    )
    session.execute(
        update(table)
        .where(table.c.idempotency_key.in_(keys), takeover)
        .values(
            status=AttemptStatus.SENDING.value,
            worker_id=worker_id,
            claimed_at=now,
            tries=table.c.tries + 1,
        )
    )
    owned = session.exec(
        select(DeliveryAttempt.idempotency_key).where(
            col(DeliveryAttempt.idempotency_key).in_(keys),
            DeliveryAttempt.worker_id == worker_id,
            DeliveryAttempt.claimed_at == now,
            DeliveryAttempt.status == AttemptStatus.SENDING.value,
        )
    ).all()
    return set(owned)


def held_elsewhere(session: Session, keys: list[str]) -> dict[str, datetime]:
    """Keys another worker holds as `sending`, with their claim time. That worker may have died
    moments ago: the caller re-checks them once the lease has run out, rather than dropping them."""
    if not keys:
        return {}
    rows = session.exec(
        select(DeliveryAttempt.idempotency_key, DeliveryAttempt.claimed_at).where(
            col(DeliveryAttempt.idempotency_key).in_(keys),
            DeliveryAttempt.status == AttemptStatus.SENDING.value,
        )
    ).all()
    return dict(rows)


def tries_of(session: Session, keys: Iterable[str]) -> dict[str, int]:
    rows = session.exec(
        select(DeliveryAttempt.idempotency_key, DeliveryAttempt.tries).where(
            col(DeliveryAttempt.idempotency_key).in_(list(keys))
        )
    ).all()
    return dict(rows)


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    notice_id: int
    channel: str
    status: AttemptStatus
    provider_id: str | None = None
    error: str | None = None
    spend: bool = True  # False: this try does not count (channel fault, batch deadline)
    fault: bool = False  # the channel, not the recipient, failed
    verdict: bool = False  # the provider's answer about this recipient
    contact_point_id: int | None = None  # a refused contact point, to mark unusable
    not_before: datetime | None = None
    tries_delta: int = 0

    def but(self, **changes: Any) -> Outcome:
        return dataclasses.replace(self, **changes)


def record(session: Session, outcomes: list[Outcome], *, worker_id: str, now: datetime) -> None:
    """Write results in a few executemany statements; a sent attempt marks its notice sent."""
    if not outcomes:
        return
    table = DeliveryAttempt.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.idempotency_key == bindparam("k"), table.c.worker_id == worker_id)
        .values(
            status=bindparam("s"),
            provider_id=bindparam("p"),
            error=bindparam("e"),
            sent_at=bindparam("t"),
            not_before=bindparam("nb"),
            tries=table.c.tries + bindparam("dt"),
            updated_at=now,
        ),
        [
            {
                "k": o.key,
                "s": o.status.value,
                "p": o.provider_id,
                "e": o.error,
                "t": now if o.status is AttemptStatus.SENT else None,
                "nb": o.not_before,
                "dt": o.tries_delta,
            }
            for o in outcomes
        ],
    )
    insert_ignoring_duplicates(
        session,
        DeliveryEvent,
        [
            {
                "idempotency_key": o.key,
                "status": o.status.value,
                "source": DeliverySource.DISPATCHER.value,
                "at": now,
                "detail": {"error": o.error} if o.error else {},
            }
            for o in outcomes
        ],
    )
    refused = [o for o in outcomes if o.contact_point_id is not None]
    if refused:
        points = ContactPoint.__table__  # type: ignore[attr-defined]
        session.execute(
            update(points)
            .where(points.c.id == bindparam("cid"))
            .values(problem=bindparam("why"), checked_at=now),
            [{"cid": o.contact_point_id, "why": f"refused: {o.error}"[:300]} for o in refused],
        )
    sent = [o for o in outcomes if o.status is AttemptStatus.SENT]
    if sent:
        notices = Notice.__table__  # type: ignore[attr-defined]
        session.execute(  # an escalation step sent later never takes a notice back to `sent`
            update(notices)
            .where(
                notices.c.id == bindparam("nid"),
                notices.c.status != NoticeStatus.DELIVERED.value,
                notices.c.status != NoticeStatus.CONFIRMED.value,
            )
            .values(
                status=NoticeStatus.SENT.value, channel=bindparam("ch"), updated_at=now, reason=None
            ),
            [{"nid": o.notice_id, "ch": o.channel} for o in sent],
        )


def mark_unreachable(session: Session, reasons: dict[int, str], *, now: datetime) -> None:
    if not reasons:
        return
    notices = Notice.__table__  # type: ignore[attr-defined]
    session.execute(
        update(notices)
        .where(notices.c.id == bindparam("nid"), notices.c.status == NoticeStatus.PENDING.value)
        .values(status=NoticeStatus.UNREACHABLE.value, reason=bindparam("why"), updated_at=now),
        [{"nid": nid, "why": why} for nid, why in reasons.items()],
    )


def schedule(
    session: Session, timers: list[tuple[ClaimRequest, datetime]], *, now: datetime
) -> None:
    """Escalation steps not due yet, as rows: `scheduled` attempts with their due time (no try
    spent: `tries` 0). A key that already has a row keeps it."""
    if not timers:
        return
    insert_ignoring_duplicates(
        session,
        DeliveryAttempt,
        [_attempt_row(r, SCHEDULED, "escalation", 0, now, not_before=due) for r, due in timers],
    )
    _events(session, {r.key: f"due {due.isoformat()}" for r, due in timers}, SCHEDULED, now)


def cancel(session: Session, reasons: dict[str, str], *, now: datetime) -> None:
    """Escalation timers whose step is no longer needed (key -> why)."""
    if not reasons:
        return
    table = DeliveryAttempt.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.idempotency_key == bindparam("k"), table.c.status == SCHEDULED)
        .values(status=CANCELLED, error=bindparam("why"), updated_at=now),
        [{"k": key, "why": why} for key, why in reasons.items()],
    )
    _events(session, reasons, CANCELLED, now)


def restore(session: Session, told: dict[int, tuple[str, str]], *, now: datetime) -> None:
    """Pending notices that a channel did take (another channel's return made them pending)."""
    if not told:
        return
    notices = Notice.__table__  # type: ignore[attr-defined]
    session.execute(
        update(notices)
        .where(notices.c.id == bindparam("nid"), notices.c.status == NoticeStatus.PENDING.value)
        .values(status=bindparam("st"), channel=bindparam("ch"), updated_at=now, reason=None),
        [{"nid": nid, "st": status, "ch": channel} for nid, (status, channel) in told.items()],
    )


def _events(session: Session, notes: dict[str, str], status: str, now: datetime) -> None:
    source = DeliverySource.DISPATCHER.value
    insert_ignoring_duplicates(
        session,
        DeliveryEvent,
        [
            {
                "idempotency_key": k,
                "status": status,
                "source": source,
                "at": now,
                "detail": {"note": n},
            }
            for k, n in notes.items()
        ],
    )
