"""The message bus: one table of which handlers run for which domain event (cosmicpython's
message bus, without commands). Handlers run in the caller's session, in order; an event a
handler returns is handled too, so a chain (chain exhausted → incident settled) stays explicit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import structlog
from sqlmodel import Session, select

from incident.adapters.db import lock_for_update
from incident.adapters.tables import AuditEvent, Incident, Notice
from incident.domain.events import (
    ChainExhausted,
    ClockRecorded,
    ConfirmationReceived,
    Event,
    IncidentEnriched,
    IncidentRaised,
    IncidentSettled,
    NoticesSettled,
    ReceiptReceived,
)
from incident.domain.model import IncidentStatus, NoticeStatus
from incident.service.obligations import recompute_obligations
from incident.service.obligations_met import mark_met_obligations
from incident.service.report_filing import prepare_reports
from incident.service.substitute import ensure_public_notice, public_notice

log = structlog.get_logger()
Handler = Callable[[Session, Event, datetime], Iterable[Event]]


def refresh_obligations(session: Session, event: Event, now: datetime) -> list[Event]:
    """Counts, unreachable people and clocks feed the obligations: recompute them. The row lock
    keeps two workers finishing an incident together from both writing an open set."""
    locked = session.exec(
        lock_for_update(session, select(Incident.id).where(Incident.id == event.incident_id))
    ).first()
    if locked is not None:
        recompute_obligations(session, event.incident_id, now=now)
    return []


def mark_obligations_met(session: Session, event: Event, now: datetime) -> list[Event]:
    """After `refresh_obligations` (which took the incident's row lock): stamp what is met."""
    mark_met_obligations(session, event.incident_id, now=now)
    return []


def record_exhausted_chain(session: Session, event: Event, now: datetime) -> list[Event]:
    assert isinstance(event, ChainExhausted)
    session.add(
        AuditEvent(
            incident_id=event.incident_id,
            kind="chain_exhausted",
            at=now,
            detail={"person_id": event.person_id, "reason": event.reason},
        )
    )
    return []


def settle_incident_when_done(session: Session, event: Event, now: datetime) -> list[Event]:
    """The last settled notice of an incident settles the incident (and the check is one
    indexed query per incident per batch)."""
    pending = session.exec(
        select(Notice.id)
        .where(Notice.incident_id == event.incident_id, Notice.status == NoticeStatus.PENDING)
        .limit(1)
    ).first()
    return [] if pending is not None else [IncidentSettled(event.incident_id)]


def _draft(session: Session, incident_id: str) -> bool:
    """Not approved yet: its obligations are known, but nothing is published or prepared."""
    incident = session.get(Incident, incident_id)
    return incident is not None and incident.status == IncidentStatus.DRAFT.value


def decide_public_notice(session: Session, event: Event, now: datetime) -> list[Event]:
    """Obligations just recomputed: a substitute or public-notice decision creates the
    incident's public notice (once), with its grounds in an AuditEvent."""
    if _draft(session, event.incident_id):
        return []
    ensure_public_notice(session, event.incident_id, now=now)
    return []


def public_notice_when_unreachable(session: Session, event: Event, now: datetime) -> list[Event]:
    """A rule may call for a public notice as soon as someone is unreachable, before the
    incident settles. Once the notice exists this costs one indexed lookup per event."""
    incident = session.get(Incident, event.incident_id)
    if incident is None or public_notice(session, incident) is not None:
        return []
    refresh_obligations(session, event, now)
    ensure_public_notice(session, event.incident_id, now=now)
    return []


def prepare_regulator_reports(session: Session, event: Event, now: datetime) -> list[Event]:
    """One authority notice and report version per open authority obligation."""
    if _draft(session, event.incident_id):
        return []
    prepare_reports(session, event.incident_id, now=now)
    return []


def record_receipt(session: Session, event: Event, now: datetime) -> list[Event]:
    assert isinstance(event, ReceiptReceived | ConfirmationReceived)
    log.info("receipt_recorded", incident_id=event.incident_id, source=event.source)
    return []


HANDLERS: dict[type[Event], list[Handler]] = {
    IncidentRaised: [refresh_obligations],
    IncidentEnriched: [refresh_obligations, decide_public_notice, prepare_regulator_reports],
    ClockRecorded: [refresh_obligations],
    NoticesSettled: [settle_incident_when_done],
    ChainExhausted: [record_exhausted_chain, public_notice_when_unreachable],
    IncidentSettled: [
        refresh_obligations,
        mark_obligations_met,
        decide_public_notice,
        prepare_regulator_reports,
    ],
    ReceiptReceived: [record_receipt],
    ConfirmationReceived: [record_receipt],
}


def handle(session: Session, events: Iterable[Event], *, now: datetime) -> None:
    """Run every handler of every event (and of the events they return); the caller commits."""
    queue = list(events)
    while queue:
        event = queue.pop(0)
        for handler in HANDLERS[type(event)]:
            queue.extend(handler(session, event, now))
