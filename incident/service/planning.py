"""Plan a dispatch batch: load what each job needs in a few queries and route it.

Routing reads what enrichment recorded: the contact points (with their problems) and the
attempts so far. Nothing is re-checked here; a point found unusable is simply not offered.

An incident whose severity has an escalation plan (config/routing.toml) is planned step by step
(`incident.domain.escalation`): a notice already `sent` or `delivered` is still planned while a
step of its plan may fire, steps not due yet become timer rows, steps no longer needed are
cancelled. Every other incident keeps the single fallback chain, at the same cost as before."""

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
from incident.domain.contacts import StoredContact, usable_contact_points
from incident.domain.dedupe import accounts_of
from incident.domain.escalation import (
    SCHEDULED,
    AttemptState,
    Decision,
    EscalationPlan,
    Routing,
    evaluate,
)
from incident.domain.model import (
    RETURNED,
    AddresseeKind,
    AttemptStatus,
    IncidentStatus,
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
    # Escalation: steps not due yet (written as timer rows), timers no longer needed (key ->
    # why), when to plan a notice again, and notices pending although a channel took them.
    timers: list[tuple[Delivery, datetime]] = field(default_factory=list)
    cancel: dict[str, str] = field(default_factory=dict)
    wake: list[tuple[NoticeJob, datetime]] = field(default_factory=list)
    restore: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (status, channel)


def plan_batch(
    session: Session,
    jobs: Sequence[NoticeJob],
    *,
    kinds: Mapping[str, Sequence[str]],
    chain: Sequence[str],
    now: datetime,
    routing: Routing | None = None,
) -> Plan:
    """`kinds`: the contact kinds of each channel that can be used now (name -> kinds)."""
    plan = Plan()
    groups: dict[tuple[str, int, str], set[str]] = {}
    for job in jobs:
        groups.setdefault((job.incident_id, job.notice_version, job.addressee_kind), set()).add(
            job.addressee_id
        )
    plan.skipped = len(jobs) - sum(len(p) for p in groups.values())
    for (incident_id, version, kind), ids in groups.items():
        incident = session.get(Incident, incident_id)
        if incident is None:  # never a crash loop: the caller dead-letters these, with a record
            plan.unknown += [NoticeJob(incident_id, i, version, kind) for i in sorted(ids)]
        elif incident.notice_version != version:
            plan.skipped += len(ids)  # superseded version: nothing to send
        elif incident.status == IncidentStatus.DRAFT:
            plan.skipped += len(ids)  # not approved: its approval queues these jobs again
        elif kind == AddresseeKind.PERSON:
            steps = routing.plan_for(incident.severity) if routing is not None else None
            if steps is None:
                _plan_people(session, plan, incident, ids, kinds, chain)
            else:
                _plan_escalation(session, plan, incident, ids, kinds, steps, now)
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
    notices, affected, people, contacts = _load_people(session, incident, person_ids, kinds)
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
        plan.deliveries.append(
            _delivery(incident, notice, route.channel, recipient, subject, found, point)
        )


def _load_people(
    session: Session, incident: Incident, person_ids: set[str], kinds: Mapping[str, Sequence[str]]
) -> tuple[
    list[Notice], dict[str, AffectedPerson], dict[str, Person], dict[str, list[StoredContact]]
]:
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
    return notices, affected, people, contacts


def _delivery(
    incident: Incident,
    notice: Notice,
    channel: str,
    recipient: Person,
    subject: Person,
    found: AffectedPerson | None,
    point: StoredContact,
) -> Delivery:
    assert notice.id is not None and notice.person_id is not None
    categories = tuple(found.categories) if found is not None else tuple(incident.categories)
    return Delivery(
        _key(incident, notice.person_id, channel),
        notice.id,
        channel,
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


# A notice in one of these may still have an escalation step to fire (or, once confirmed,
# timers to cancel: the recipient confirmed, nothing more goes out).
_OPEN = frozenset(
    {NoticeStatus.PENDING, NoticeStatus.SENT, NoticeStatus.DELIVERED, NoticeStatus.CONFIRMED}
)
_TOLD = {"sent": 1, "delivered": 2, "confirmed": 3}


def _plan_escalation(
    session: Session,
    plan: Plan,
    incident: Incident,
    person_ids: set[str],
    kinds: Mapping[str, Sequence[str]],
    steps: EscalationPlan,
    now: datetime,
) -> None:
    notices, affected, people, contacts = _load_people(session, incident, person_ids, kinds)
    states = _attempt_states(session, incident, list(person_ids), steps.channels)
    plan.skipped += len(person_ids) - len(notices)
    for notice in notices:
        assert notice.id is not None and notice.person_id is not None
        recipient = people.get(notice.recipient_id or notice.person_id)
        subject = people.get(notice.person_id)
        if notice.status not in _OPEN or recipient is None or subject is None:
            if notice.status == NoticeStatus.PENDING:
                plan.unreachable[notice.id] = "person no longer in the directory"
            else:
                plan.skipped += 1
            continue
        keys = {ch: _key(incident, notice.person_id, ch) for ch in steps.channels}
        mine = {ch: states[k] for ch, k in keys.items() if k in states}
        if notice.status == NoticeStatus.CONFIRMED:
            timers = [keys[ch] for ch, a in mine.items() if a.status == SCHEDULED]
            plan.cancel.update(dict.fromkeys(timers, "not needed: the recipient confirmed"))
            plan.skipped += 0 if timers else 1
            continue
        found = affected.get(notice.person_id)
        points = contacts.get(recipient.id, [])
        usable = {n: p for n, k in kinds.items() if (p := usable_contact_points(k, points))}
        decision = evaluate(
            steps,
            attempts=mine,
            usable=usable.keys(),
            preferences=recipient.channel_preferences,
            problems=_problems(steps, kinds, found),
            now=now,
        )
        deliver = {
            ch: _delivery(incident, notice, ch, recipient, subject, found, usable[ch][0])
            for ch in (*decision.send, *decision.schedule)
        }
        _take(plan, decision, deliver, keys, notice, mine)


def _take(
    plan: Plan,
    decision: Decision,
    deliver: Mapping[str, Delivery],
    keys: Mapping[str, str],
    notice: Notice,
    mine: Mapping[str, AttemptState],
) -> None:
    """One notice's escalation decision, added to the batch's plan."""
    assert notice.person_id is not None
    plan.deliveries += [deliver[ch] for ch in decision.send]
    plan.timers += [(deliver[ch], due) for ch, due in decision.schedule.items()]
    plan.cancel.update({keys[ch]: why for ch, why in decision.cancel.items()})
    if decision.wake is not None:
        job = NoticeJob(notice.incident_id, notice.person_id, notice.version)
        plan.wake.append((job, decision.wake))
    if notice.status == NoticeStatus.PENDING:
        _pending(plan, notice, mine, decision.live, decision.why_not)
    if not deliver and not decision.cancel:
        plan.skipped += 1


def _pending(
    plan: Plan, notice: Notice, mine: Mapping[str, AttemptState], live: bool, why: list[str]
) -> None:
    """A pending notice that a channel took (a return elsewhere made it pending) is restored;
    one with nothing live and nothing left to try is exhausted."""
    assert notice.id is not None and notice.person_id is not None
    told = max(mine.items(), key=lambda kv: _TOLD.get(kv[1].status, 0), default=None)
    if told is not None and told[1].status in _TOLD:
        plan.restore[notice.id] = (told[1].status, told[0])
    elif not live:
        plan.exhausted[notice.id] = (notice.person_id, "; ".join(why) or "no channel configured")


def _problems(
    steps: EscalationPlan, kinds: Mapping[str, Sequence[str]], found: AffectedPerson | None
) -> dict[str, str]:
    recorded = found.contact_problems if found is not None else {}
    return {
        ch: "; ".join(f"{k} {recorded.get(k, 'missing')}" for k in kinds[ch])
        if ch in kinds
        else "channel not configured"
        for ch in steps.channels
    }


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


def _attempt_states(
    session: Session, incident: Incident, ids: list[str], channels: Sequence[str]
) -> dict[str, AttemptState]:
    keys = [_key(incident, pid, ch) for pid in ids for ch in channels]
    rows = session.exec(
        select(
            DeliveryAttempt.idempotency_key,
            DeliveryAttempt.status,
            DeliveryAttempt.claimed_at,
            DeliveryAttempt.not_before,
        ).where(col(DeliveryAttempt.idempotency_key).in_(keys))
    ).all()
    return {key: AttemptState(status, at, due) for key, status, at, due in rows}


__all__ = ["ADDRESSEE_CHANNEL", "AttemptStatus", "Plan", "plan_batch"]
