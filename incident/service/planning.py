"""Plan a dispatch batch: load what each job needs in a few queries and route it.

Routing reads what enrichment recorded: the contact points (with their problems) and the
attempts so far. Nothing is re-checked here; a point found unusable is simply not offered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from incident.adapters.tables import (
    AffectedPerson,
    DeliveryAttempt,
    Incident,
    Notice,
    Person,
)
from incident.domain.contacts import usable_contact_points
from incident.domain.dedupe import accounts_of
from incident.domain.model import (
    RETURNED,
    AddresseeKind,
    AttemptStatus,
    NoticeJob,
    NoticeStatus,
    idempotency_key,
)
from incident.domain.policy import next_channel, preferred_order
from incident.service.compose import Delivery
from incident.service.directory import load_contacts

# Who takes a notice that is not addressed to a person.
ADDRESSEE_CHANNEL = {AddresseeKind.PUBLIC: "announcement", AddresseeKind.AUTHORITY: "regulator"}


@dataclass
class Plan:
    deliveries: list[Delivery] = field(default_factory=list)
    unreachable: dict[int, str] = field(default_factory=dict)  # notice id -> why
    exhausted: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (person, why)
    skipped: int = 0  # duplicates and notices already settled
    unknown: list[NoticeJob] = field(default_factory=list)  # jobs of incidents that do not exist


def plan_batch(
    session: Session,
    jobs: Sequence[NoticeJob],
    *,
    kinds: Mapping[str, Sequence[str]],
    chain: Sequence[str],
    now: datetime,
) -> Plan:
    """`kinds`: the contact kinds of each channel that can be used now (name -> kinds)."""
    plan = Plan()
    groups: dict[tuple[str, int, str], set[str]] = {}
    for job in jobs:
        groups.setdefault((job.incident_id, job.notice_version, job.addressee_kind), set()).add(
            job.person_id
        )
    plan.skipped = len(jobs) - sum(len(p) for p in groups.values())
    for (incident_id, version, kind), ids in groups.items():
        incident = session.get(Incident, incident_id)
        if incident is None:  # never a crash loop: the caller dead-letters these, with a record
            plan.unknown += [NoticeJob(incident_id, i, version, kind) for i in sorted(ids)]
        elif incident.notice_version != version:
            plan.skipped += len(ids)  # superseded version: nothing to send
        elif kind == AddresseeKind.PERSON:
            _plan_people(session, plan, incident, ids, kinds, chain)
        else:
            _plan_others(session, plan, incident, kind, ids, kinds)
    return plan


def _notices(session: Session, incident: Incident, kind: str, ids: list[str]) -> list[Notice]:
    return list(
        session.exec(
            select(Notice).where(
                Notice.incident_id == incident.id,
                Notice.version == incident.notice_version,
                Notice.addressee_kind == kind,
                col(Notice.addressee_id).in_(ids),
            )
        ).all()
    )


def _plan_people(
    session: Session,
    plan: Plan,
    incident: Incident,
    person_ids: set[str],
    kinds: Mapping[str, Sequence[str]],
    chain: Sequence[str],
) -> None:
    ids = list(person_ids)
    notices = _notices(session, incident, AddresseeKind.PERSON, ids)
    affected = {
        a.person_id: a
        for a in session.exec(
            select(AffectedPerson).where(
                AffectedPerson.incident_id == incident.id,
                col(AffectedPerson.person_id).in_(ids),
            )
        ).all()
    }
    wanted = {n.recipient_id for n in notices if n.recipient_id} | person_ids
    people = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(wanted)))}
    contacts = load_contacts(session, wanted, {k for ks in kinds.values() for k in ks})
    attempts = _attempts(session, incident, ids, chain)
    plan.skipped += len(person_ids) - len(notices)
    for notice in notices:
        if notice.status != NoticeStatus.PENDING.value:
            plan.skipped += 1
            continue
        assert notice.id is not None and notice.person_id is not None
        recipient = people.get(notice.recipient_id or notice.person_id)
        subject = people.get(notice.person_id)
        if recipient is None or subject is None:  # deleted from the directory since enrichment
            plan.unreachable[notice.id] = "person no longer in the directory"
            continue
        exhausted = {
            ch for ch in chain if attempts.get(_key(incident, notice.person_id, ch)) in RETURNED
        }
        points = contacts.get(recipient.id, [])
        usable = {name: usable_contact_points(k, points) for name, k in kinds.items()}
        found = affected.get(notice.person_id)
        route = next_channel(
            preferred_order(chain, recipient.channel_preferences),
            usable={name for name, pts in usable.items() if pts},
            available=kinds.keys(),
            problems=found.contact_problems if found is not None else {},
            contact_kinds=kinds,
            exhausted=exhausted,
        )
        if route.channel is None:
            plan.exhausted[notice.id] = (notice.person_id, route.reason)
            continue
        point = usable[route.channel][0]
        categories = tuple(found.categories) if found is not None else tuple(incident.categories)
        plan.deliveries.append(
            Delivery(
                _key(incident, notice.person_id, route.channel),
                notice.id,
                route.channel,
                incident,
                recipient,
                subject,
                categories,
                point.as_data(recipient.country),
                point.id,
                jurisdiction=found.jurisdiction if found is not None else None,
                created_at=notice.created_at,
                # Several accounts of one human: one notice lists them all (enrich/dedupe).
                accounts=accounts_of(found.contact_problems) if found is not None else (),
            )
        )


def _plan_others(
    session: Session,
    plan: Plan,
    incident: Incident,
    kind: str,
    ids: set[str],
    kinds: Mapping[str, Sequence[str]],
) -> None:
    """The public and authorities: one channel each, same claim, keys and records."""
    notices = _notices(session, incident, kind, list(ids))
    plan.skipped += len(ids) - len(notices)
    channel = ADDRESSEE_CHANNEL.get(AddresseeKind(kind))
    for notice in notices:
        assert notice.id is not None
        if notice.status != NoticeStatus.PENDING.value:
            plan.skipped += 1
        elif channel is None or channel not in kinds:
            plan.unreachable[notice.id] = f"no {channel or kind} channel configured"
        else:
            stand_in = Person(id=notice.addressee_id, name="", country="ZZ")
            plan.deliveries.append(
                Delivery(
                    idempotency_key(
                        incident.id, notice.addressee_id, channel, incident.notice_version, kind
                    ),
                    notice.id,
                    channel,
                    incident,
                    stand_in,
                    stand_in,
                    tuple(incident.categories),
                    addressee_kind=kind,
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


__all__ = ["ADDRESSEE_CHANNEL", "AttemptStatus", "Plan", "plan_batch"]
