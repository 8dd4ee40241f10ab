"""Plan a dispatch batch: load what each job needs in a few queries and route it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from channels.base import Channel
from incident.adapters.tables import AffectedPerson, DeliveryAttempt, Incident, Notice, Person
from incident.domain.model import AttemptStatus, NoticeJob, NoticeStatus, idempotency_key
from incident.domain.policy import next_channel, preferred_order
from incident.service.compose import Delivery, contact_point


@dataclass
class Plan:
    deliveries: list[Delivery] = field(default_factory=list)
    unreachable: dict[int, str] = field(default_factory=dict)  # notice id -> why
    skipped: int = 0  # duplicates and notices already settled


def _group(jobs: Sequence[NoticeJob]) -> dict[tuple[str, int], set[str]]:
    groups: dict[tuple[str, int], set[str]] = {}
    for job in jobs:
        groups.setdefault((job.incident_id, job.notice_version), set()).add(job.person_id)
    return groups


def plan_batch(
    session: Session,
    jobs: Sequence[NoticeJob],
    *,
    channels: Mapping[str, Channel],
    chain: Sequence[str],
    now: datetime,
) -> Plan:
    plan = Plan()
    groups = _group(jobs)
    plan.skipped = len(jobs) - sum(len(p) for p in groups.values())
    for (incident_id, version), person_ids in groups.items():
        incident = session.get(Incident, incident_id)
        if incident is None or incident.notice_version != version:
            plan.skipped += len(person_ids)  # superseded version or unknown: nothing to send
            continue
        _plan_incident(session, plan, incident, person_ids, channels, chain)
    return plan


def _plan_incident(
    session: Session,
    plan: Plan,
    incident: Incident,
    person_ids: set[str],
    channels: Mapping[str, Channel],
    chain: Sequence[str],
) -> None:
    ids = list(person_ids)
    notices = session.exec(
        select(Notice).where(
            Notice.incident_id == incident.id,
            Notice.version == incident.notice_version,
            col(Notice.person_id).in_(ids),
        )
    ).all()
    affected = {
        a.person_id: a
        for a in session.exec(
            select(AffectedPerson).where(
                AffectedPerson.incident_id == incident.id, col(AffectedPerson.person_id).in_(ids)
            )
        ).all()
    }
    wanted = {n.recipient_id for n in notices} | person_ids
    people = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(wanted)))}
    attempts = _attempts(session, incident, ids, chain)
    plan.skipped += len(person_ids) - len(notices)
    kinds = {name: channel.contact_kind for name, channel in channels.items()}
    for notice in notices:
        if notice.status != NoticeStatus.PENDING.value:
            plan.skipped += 1
            continue
        assert notice.id is not None
        recipient, subject = people[notice.recipient_id], people[notice.person_id]
        exhausted = {
            ch
            for ch in chain
            if attempts.get(_key(incident, notice.person_id, ch)) == AttemptStatus.FAILED.value
        }
        problems = {
            ch.contact_kind: p
            for ch in channels.values()
            if (p := ch.recipient_problem(contact_point(ch.contact_kind, recipient)))
        }
        route = next_channel(
            preferred_order(chain, recipient.channel_preferences),
            available=channels.keys(),
            contact_problems=problems,
            contact_kinds=kinds,
            exhausted=exhausted,
        )
        if route.channel is None:
            plan.unreachable[notice.id] = route.reason
            continue
        categories = (
            tuple(affected[notice.person_id].categories)
            if notice.person_id in affected
            else tuple(incident.categories)
        )
        plan.deliveries.append(
            Delivery(
                _key(incident, notice.person_id, route.channel),
                notice.id,
                route.channel,
                incident,
                recipient,
                subject,
                categories,
            )
        )


def _key(incident: Incident, person_id: str, channel: str) -> str:
    return idempotency_key(incident.id, person_id, channel, incident.notice_version)


def _attempts(
    session: Session, incident: Incident, ids: list[str], chain: Sequence[str]
) -> dict[str, str]:
    keys = [_key(incident, pid, ch) for pid in ids for ch in chain]
    rows = session.exec(
        select(DeliveryAttempt.idempotency_key, DeliveryAttempt.status).where(
            col(DeliveryAttempt.idempotency_key).in_(keys)
        )
    ).all()
    return dict(rows)
