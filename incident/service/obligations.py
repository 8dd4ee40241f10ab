"""Obligations of a stored incident: facts from the database in, obligation rows out.

`recompute_obligations` is called by intake and after enrichment. It is cheap when nothing
changed: two grouped counts, a hash, and no write. When the facts or the rules changed, the
open set is superseded (kept as history) and the new set written; the caller commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, distinct, func
from sqlmodel import Session, col, select

from incident.adapters.obligation_tables import IncidentClock, ObligationRecord
from incident.adapters.tables import AffectedPerson, DeliveryAttempt, Incident, Notice
from incident.domain.jurisdiction import is_valid_jurisdiction
from incident.domain.model import AddresseeKind, NoticeStatus
from incident.errors import NotFound
from incident.obligations import IncidentFacts, Obligation, Rules, assess, load_rules, parse_facts
from incident.obligations.engine import matches
from incident.obligations.facts import NOTICE_KEY

_CLOCK_NAMES = ("determined_at", "material_at", "assessed_at", "handled_at", "extortion_paid_at")
# Columns that make two obligation rows "the same obligation, same clock".
_SAME = ("key", "persons", "reason", "citation", "deadline", "clock_note", "clock_start", "due",
         "target", "content_items", "forbidden_items", "substitute_notice")  # fmt: skip


def recompute_obligations(
    session: Session, incident_id: str, *, now: datetime, rules: Rules | None = None
) -> list[ObligationRecord]:
    """The incident's open obligations, recomputed if its facts changed. Does not commit."""
    rules = rules or load_rules()
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident", incident_id)
    data = facts_data(session, incident, rules)
    digest = _digest(data, rules)
    current = open_obligations(session, incident_id=incident_id)
    if current and all(r.facts_hash == digest for r in current):
        return current
    fresh = [
        _record(ob, incident_id, digest, now)
        for ob in assess(parse_facts(data, rules.flags), rules)
    ]
    if [_signature(r) for r in current] == [_signature(r) for r in fresh]:
        for row in current:  # same obligations from new facts: remember the facts, no history
            row.facts_hash = digest
            session.add(row)
        return current
    met = {r.key: r.met_at for r in current if r.status == "met"}
    for row in current:
        row.superseded_at = now
        session.add(row)
    for row in fresh:
        if row.key in met:
            row.status, row.met_at = "met", met[row.key]
        session.add(row)
    session.flush()
    return fresh


def facts_from_incident(
    incident: Incident,
    affected: Mapping[str, int],
    unreachable: Mapping[str, int],
    clocks: Sequence[IncidentClock] = (),
    *,
    rules: Rules | None = None,
) -> IncidentFacts:
    """The engine's view of a stored incident; raises InvalidInputs on corrupt stored data."""
    rules = rules or load_rules()
    return parse_facts(_facts_mapping(incident, affected, unreachable, clocks, rules), rules.flags)


def facts_data(session: Session, incident: Incident, rules: Rules) -> dict[str, Any]:
    # People whose place the directory got wrong are recorded with jurisdiction "ZZ" (ISO's
    # user-assigned code) and reported by enrichment; no rule applies to them until corrected.
    affected = _known_places(_counts_by_jurisdiction(session, incident.id))
    unreachable = _known_places(_unreachable_by_jurisdiction(session, incident))
    clocks = session.exec(
        select(IncidentClock).where(IncidentClock.incident_id == incident.id)
    ).all()
    data = _facts_mapping(incident, affected, unreachable, clocks, rules)
    by_category = {
        place: counts
        for place, counts in _counts_by_category(session, incident.id).items()
        if is_valid_jurisdiction(place)
    }
    if by_category:
        data["affected_by_category"] = by_category
    notified = _notices_sent(session, incident.id, rules)
    if notified:
        data["notified_at"] = notified
    return data


def _notices_sent(session: Session, incident_id: str, rules: Rules) -> dict[str, datetime]:
    """When the notices that start `sent:` clocks were first sent (accepted by a channel):
    an authority notice by its obligation key; individuals' notices per rule, from the first
    person notified in the jurisdictions the rule covers."""
    sent = col(DeliveryAttempt.sent_at)
    of_incident = (DeliveryAttempt.incident_id == incident_id, sent.is_not(None))
    out: dict[str, datetime] = {}
    authority = (
        select(DeliveryAttempt.addressee_id, func.min(sent))
        .where(*of_incident, DeliveryAttempt.addressee_kind == AddresseeKind.AUTHORITY.value)
        .group_by(col(DeliveryAttempt.addressee_id))
    )
    for key, at in session.exec(authority).all():
        if at is not None and NOTICE_KEY.match(key.removesuffix("/-")):
            out[key.removesuffix("/-")] = at
    persons = (
        select(AffectedPerson.jurisdiction, func.min(sent))
        .join(AffectedPerson, and_(
            col(AffectedPerson.incident_id) == col(DeliveryAttempt.incident_id),
            col(AffectedPerson.person_id) == col(DeliveryAttempt.person_id),
        ))
        .where(*of_incident, DeliveryAttempt.addressee_kind == AddresseeKind.PERSON.value)
        .group_by(col(AffectedPerson.jurisdiction))
    )  # fmt: skip
    first_by_place = {j: at for j, at in session.exec(persons).all() if at is not None}
    referenced = {  # `sent:` clock starts and "whichever is sooner" (`or_when_sent`) stages
        start.removeprefix("sent:")
        for r in rules.rules
        for s in r.stages
        for start in (s.clock_start, s.or_when_sent or "")
        if start.startswith("sent:")
    }
    for rule in rules.rules:
        if rule.recipient != "individuals":
            continue
        cond = rule.applies_when
        times = [
            at
            for place, at in first_by_place.items()
            if (not cond.jurisdictions or matches(place, cond.jurisdictions, rules))
            and not matches(place, cond.not_jurisdictions, rules)
        ]
        for stage in rule.stages:
            if f"{rule.id}/{stage.stage}" in referenced and times:
                out[f"{rule.id}/{stage.stage}"] = min(times)
    return dict(sorted(out.items()))


def _known_places(counts: Mapping[str, int]) -> dict[str, int]:
    return {code: n for code, n in counts.items() if is_valid_jurisdiction(code)}


def open_obligations(session: Session, *, incident_id: str | None = None) -> list[ObligationRecord]:
    query = select(ObligationRecord).where(col(ObligationRecord.superseded_at).is_(None))
    if incident_id is not None:
        query = query.where(ObligationRecord.incident_id == incident_id)
    return list(session.exec(query.order_by(col(ObligationRecord.id))).all())


def mark_met(session: Session, incident_id: str, key: str, *, at: datetime) -> None:
    """Record that an open obligation was fulfilled (report filed, notices sent)."""
    for row in open_obligations(session, incident_id=incident_id):
        if row.key == key:
            row.status, row.met_at = "met", at
            session.add(row)
            return
    raise NotFound("open obligation", f"{incident_id}:{key}")


def record_clock(
    session: Session, incident_id: str, name: str, at: datetime, *, national_security: bool = False
) -> None:
    """Record an instant that starts or pauses a clock (e.g. material_at for SEC 8-K)."""
    allowed = (*_CLOCK_NAMES, "law_enforcement_delay_start", "law_enforcement_delay_end")
    if name not in allowed:
        raise ValueError(f"unknown clock {name!r}; use one of {allowed}")
    row = session.get(IncidentClock, (incident_id, name)) or IncidentClock(
        incident_id=incident_id, name=name, at=at
    )
    row.at, row.national_security = at, national_security
    session.add(row)


def _facts_mapping(
    incident: Incident,
    affected: Mapping[str, int],
    unreachable: Mapping[str, int],
    clocks: Sequence[IncidentClock],
    rules: Rules,
) -> dict[str, Any]:
    by_name = {c.name: c for c in clocks}
    data: dict[str, Any] = {
        "aware_at": incident.aware_at,
        "discovered_at": incident.discovered_at,
        "categories": sorted(incident.categories),
        "severity": incident.severity,
        "affected": dict(sorted(affected.items())),
        "unreachable": dict(sorted(unreachable.items())),
        # Flags the rules do not know (other parts of the service use flags too) are left out.
        "flags": {k: v for k, v in sorted(incident.flags.items()) if k in rules.flags},
        "role": incident.role,
    }
    data |= {name: by_name[name].at for name in _CLOCK_NAMES if name in by_name}
    for key in ("establishment", "notice_cost_usd"):
        if incident.scope.get(key) is not None:
            data[key] = incident.scope[key]
    if "law_enforcement_delay_start" in by_name:
        start = by_name["law_enforcement_delay_start"]
        end = by_name.get("law_enforcement_delay_end")
        data["law_enforcement_delay"] = {
            "start": start.at,
            "end": end.at if end else None,
            "national_security": start.national_security,
        }
    return data


def _counts_by_jurisdiction(session: Session, incident_id: str) -> dict[str, int]:
    query = (
        select(AffectedPerson.jurisdiction, func.count())
        .where(AffectedPerson.incident_id == incident_id)
        .group_by(col(AffectedPerson.jurisdiction))
    )
    return {j: int(n) for j, n in session.exec(query).all()}


def _counts_by_category(session: Session, incident_id: str) -> dict[str, dict[str, int]]:
    """Persons per jurisdiction and exposed category. Grouped by the categories list as text
    (a handful of distinct lists, whatever the number of persons), then split here."""
    as_text = cast(col(AffectedPerson.categories), String)
    query = (
        select(AffectedPerson.jurisdiction, as_text, func.count())
        .where(AffectedPerson.incident_id == incident_id)
        .group_by(col(AffectedPerson.jurisdiction), as_text)
    )
    out: dict[str, dict[str, int]] = {}
    for jurisdiction, categories, n in session.exec(query).all():
        for category in json.loads(categories or "[]"):
            counts = out.setdefault(jurisdiction, {})
            counts[category] = counts.get(category, 0) + int(n)
    return {j: dict(sorted(c.items())) for j, c in sorted(out.items())}


def _unreachable_by_jurisdiction(session: Session, incident: Incident) -> dict[str, int]:
    """Persons whose notice of the current version could not be delivered on any channel."""
    joined = and_(
        col(AffectedPerson.incident_id) == col(Notice.incident_id),
        col(AffectedPerson.person_id) == col(Notice.person_id),
    )
    query = (
        select(AffectedPerson.jurisdiction, func.count(distinct(col(Notice.person_id))))
        .join(AffectedPerson, joined)
        .where(
            Notice.incident_id == incident.id,
            Notice.status == NoticeStatus.UNREACHABLE.value,
            Notice.version == incident.notice_version,
        )
        .group_by(col(AffectedPerson.jurisdiction))
    )
    return {j: int(n) for j, n in session.exec(query).all()}


def _digest(data: Mapping[str, Any], rules: Rules) -> str:
    text = json.dumps(data, sort_keys=True, default=_iso)
    return hashlib.sha256(f"{rules.fingerprint}:{text}".encode()).hexdigest()


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash {value!r}")


def _record(ob: Obligation, incident_id: str, digest: str, now: datetime) -> ObligationRecord:
    return ObligationRecord(
        incident_id=incident_id, key=ob.key, rule_id=ob.rule_id, regime=ob.regime,
        recipient=ob.recipient, recipient_name=ob.recipient_name, stage=ob.stage,
        jurisdiction=ob.jurisdiction, persons=ob.persons, reason=ob.reason,
        citation=ob.citation, deadline=ob.deadline, clock_note=ob.clock_note,
        time_zone=ob.time_zone, clock_start_kind=ob.clock_start_kind,
        clock_start=ob.clock_start, due=ob.due, target=ob.target,
        content_items=list(ob.content_items), forbidden_items=list(ob.forbidden_items),
        substitute_notice=ob.substitute.to_json() if ob.substitute else {},
        law_enforcement_delay=ob.law_enforcement_delay, facts_hash=digest, computed_at=now,
    )  # fmt: skip


def _signature(row: ObligationRecord) -> tuple[Any, ...]:
    values = []
    for name in _SAME:
        value = getattr(row, name)
        values.append(value.timestamp() if isinstance(value, datetime) else value)
    return tuple(values)
