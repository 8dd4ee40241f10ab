"""Writing the user directory: a person row and their contact points, from one flat record.

A record may carry `email`/`emails`, `phone`/`phones`, `postal_address` (structured fields) and
`push_subscriptions` (Web Push subscription objects); each becomes a `ContactPoint` row, in
the order given (its preference). `save_people` keeps existing people and contact points as
they are; `upsert_records` (the directory import and the live source) updates them:

- a person is matched by id; the person fields the row carries replace the stored ones, the
  fields it does not carry (a column absent from the file) keep their stored value;
- emails and phones: when a row gives at least one, that kind's set becomes exactly the row's,
  in the row's order (preference); points no longer given are deleted. An empty cell keeps
  what is on file: a blank never erases an address;
- postal addresses and push subscriptions are added when new, after the existing ones; those
  on file are kept (a print-house return or a push 410 retires them, not an import);
- a guardian later in the file is linked when the file is done (`link_guardians`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, delete, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.base import ContactKind, ContactPointData
from incident.adapters.bulk import among
from incident.adapters.db import insert_ignoring_duplicates
from incident.adapters.directory_source import DirectorySource
from incident.adapters.tables import ContactPoint, Person
from incident.domain.contacts import Checks, StoredContact, problem_of
from incident.domain.directory_rows import PersonRecord

# Every row of one INSERT needs the same columns: absent fields take these defaults.
_PERSON_DEFAULTS: dict[str, Any] = {
    "locale": "en",
    "region": None,
    "birth_date": None,
    "is_minor": False,
    "guardian_id": None,
    "channel_preferences": [],
}


def _many(record: Mapping[str, Any], one: str, many: str) -> list[Any]:
    values = list(record.get(many) or [])
    if record.get(one):
        values.insert(0, record[one])
    return values


def postal_value(fields: Mapping[str, Any]) -> str:
    """The postal address as lines, for display and uniqueness; the fields stay in details."""
    return "\n".join(str(v) for v in fields.values() if v not in (None, ""))


def contact_points_of(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    pid = record["id"]
    rows: list[dict[str, Any]] = []

    def add(kind: str, value: str, details: Mapping[str, Any] | None = None) -> None:
        rank = sum(1 for r in rows if r["kind"] == kind)
        rows.append(
            {
                "person_id": pid,
                "kind": kind,
                "value": value,
                "details": dict(details or {}),
                "preference": rank,
            }
        )

    for email in _many(record, "email", "emails"):
        add(ContactKind.EMAIL, str(email))
    for phone in _many(record, "phone", "phones"):
        add(ContactKind.PHONE, str(phone))
    postal = record.get("postal_address")
    if isinstance(postal, Mapping) and postal:
        add(ContactKind.POSTAL, postal_value(postal), postal)
    for sub in record.get("push_subscriptions") or []:
        endpoint = sub.get("endpoint", "") if isinstance(sub, Mapping) else ""
        add(ContactKind.PUSH, str(endpoint), sub if isinstance(sub, Mapping) else {"raw": sub})
    # Duplicates within one record (the same address twice) would break the unique key.
    unique = {(r["kind"], r["value"]): r for r in reversed(rows)}
    return sorted(unique.values(), key=lambda r: (r["kind"], r["preference"]))


def save_people(
    session: Session, records: Iterable[Mapping[str, Any]], checks: Checks | None = None
) -> int:
    """Insert people and their contact points (existing rows are kept; new points checked with
    `checks`, by kind, when given); the caller commits."""
    people: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for record in records:
        person = {k: record.get(k, default) for k, default in _PERSON_DEFAULTS.items()}
        people.append(
            {**person, "id": record["id"], "name": record["name"], "country": record["country"]}
        )
        points.extend(contact_points_of(record))
    if checks:
        check_new_points(points, {p["id"]: p["country"] for p in people}, checks)
    insert_ignoring_duplicates(session, Person, people)
    insert_ignoring_duplicates(session, ContactPoint, points)
    return len(people)


def load_contacts(
    session: Session, person_ids: set[str], kinds: Iterable[str]
) -> dict[str, list[StoredContact]]:
    """These people's contact points of the kinds in use, by person (plain rows, not ORM
    objects: this is on the hot path)."""
    table = ContactPoint.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect
    rows = session.execute(
        sa_select(
            table.c.id,
            table.c.person_id,
            table.c.kind,
            table.c.value,
            cast(table.c.details, Text),  # parsed here: most are empty
            table.c.preference,
            table.c.problem,
            table.c.checked_at.is_not(None),
        ).where(
            among(table.c.person_id, person_ids, dialect),
            among(table.c.kind, list(kinds), dialect),
        )
    ).all()
    out: dict[str, list[StoredContact]] = {}
    for pid, person_id, kind, value, details, preference, problem, checked in rows:
        found = json.loads(details) if details and details != "{}" else {}
        point = StoredContact(pid, person_id, kind, value, found, preference, problem, checked)
        out.setdefault(person_id, []).append(point)
    return out


@dataclass
class UpsertResult:
    """What one batch did. `guardians_pending`: (person, guardian, line) whose guardian is not
    in the directory yet; `link_guardians` sets them once the rest of the file is in."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    unusable_points: int = 0  # new contact points a check found unusable (kept, with why)
    guardians_pending: list[tuple[str, str, int]] = field(default_factory=list)


def upsert_records(
    session: Session, batch: Sequence[PersonRecord], checks: Checks | None = None
) -> UpsertResult:
    """Insert new people, update the changed fields of known ones, merge contact points (see
    `directory_import` for the rule); the caller commits. Within a batch the last row wins."""
    records = list({r.id: r for r in batch}.values())
    ids = [r.id for r in records]
    existing = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids)))}
    result = UpsertResult()
    new_rows, changes = [], []
    for r in records:
        values = r.person_values()
        values.pop("guardian_id", None)  # linked below, once the guardian surely exists
        stored = existing.get(r.id)
        if stored is None:
            new_rows.append(_PERSON_DEFAULTS | _NEW_DEFAULTS | values | {"guardian_id": None})
            continue
        diff = {k: v for k, v in values.items() if getattr(stored, k) != v}
        if diff:
            changes.append({"id": r.id, **diff})
    if new_rows:
        session.execute(insert(Person), new_rows)
    if changes:
        session.execute(update(Person), changes)
    changed = {c["id"] for c in changes}
    changed |= _link_guardians(session, records, existing, result)
    touched, result.unusable_points = _merge_points(session, records, checks or {})
    changed |= touched
    result.inserted = len(new_rows)
    result.updated = len(changed - {row["id"] for row in new_rows})
    result.unchanged = len(records) - result.inserted - result.updated
    return result


_NEW_DEFAULTS: dict[str, Any] = {"created_at": None, "last_active_at": None}


def _link_guardians(
    session: Session,
    records: Sequence[PersonRecord],
    existing: Mapping[str, Person],
    result: UpsertResult,
) -> set[str]:
    wanted = {
        r.id: (r.guardian_id, r.line)
        for r in records
        if "guardian_id" in r.given
        and (r.id not in existing or existing[r.id].guardian_id != r.guardian_id)
    }
    if not wanted:
        return set()
    asked = {g for g, _ in wanted.values() if g}
    known = (
        set(session.exec(select(Person.id).where(col(Person.id).in_(asked)))) if asked else set()
    )
    links: list[dict[str, Any]] = []
    for pid, (guardian, line) in wanted.items():
        if guardian is None or guardian in known:
            links.append({"id": pid, "guardian_id": guardian})
        else:
            result.guardians_pending.append((pid, guardian, line))
    if links:
        session.execute(update(Person), links)
    return {str(link["id"]) for link in links if link["id"] in existing}


def link_guardians(session: Session, pending: Sequence[tuple[str, str, int]]) -> list[int]:
    """Set guardians that were later in the file; the lines whose guardian is nowhere."""
    asked = {g for _, g, _ in pending}
    known: set[str] = set()
    for chunk in _chunks(sorted(asked), 5000):
        known |= set(session.exec(select(Person.id).where(col(Person.id).in_(chunk))))
    links = [{"id": pid, "guardian_id": g} for pid, g, _ in pending if g in known]
    if links:
        session.execute(update(Person), links)
    return [line for _, g, line in pending if g not in known]


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def check_new_points(
    adds: list[dict[str, Any]], countries: Mapping[str, str | None], checks: Checks
) -> int:
    """Check each new point as it is written (the checks of the channels that use its kind), so
    enrichment reads a verdict instead of checking every point of every person again. Returns
    how many were found unusable (they are kept, with the reason)."""
    now = datetime.now(UTC)
    unusable = 0
    for point in adds:
        check = checks.get(point["kind"])
        if check is None:
            point.setdefault("problem", None)  # every row of one INSERT has the same keys
            point.setdefault("checked_at", None)
            continue
        data = ContactPointData(point["kind"], point["value"], point["details"],
                                countries.get(point["person_id"]))  # fmt: skip
        point["problem"] = problem_of(data, check)
        point["checked_at"] = now
        unusable += point["problem"] is not None
    return unusable


def _merge_points(
    session: Session, records: Sequence[PersonRecord], checks: Checks
) -> tuple[set[str], int]:
    """Emails and phones given replace that kind's set; postal and push points are added. The
    people touched, and how many new points were found unusable."""
    ids = [r.id for r in records]
    stored: dict[tuple[str, str, str], ContactPoint] = {
        (p.person_id, p.kind, p.value): p
        for p in session.exec(select(ContactPoint).where(col(ContactPoint.person_id).in_(ids)))
    }
    rank: dict[tuple[str, str], int] = {}
    of_kind: dict[tuple[str, str], list[ContactPoint]] = {}
    for p in stored.values():
        key = (p.person_id, p.kind)
        rank[key] = max(rank.get(key, -1), p.preference)
        of_kind.setdefault(key, []).append(p)
    adds, moves, drops, touched = [], [], [], set()
    for r in records:
        for kind, values in ((ContactKind.EMAIL, r.emails), (ContactKind.PHONE, r.phones)):
            if values is None:
                continue
            for i, value in enumerate(values):
                point = stored.get((r.id, kind, value))
                if point is None:
                    adds.append(_point(r.id, kind, value, {}, i))
                elif point.preference != i:
                    moves.append({"id": point.id, "preference": i})
            drops += [p.id for p in of_kind.get((r.id, kind), []) if p.value not in values]
        for kind, value, details in _additive(r):
            if (r.id, kind, value) not in stored:
                rank[(r.id, kind)] = rank.get((r.id, kind), -1) + 1
                adds.append(_point(r.id, kind, value, details, rank[(r.id, kind)]))
    unusable = check_new_points(adds, {r.id: r.country for r in records}, checks)
    by_id = {p.id: p.person_id for p in stored.values()}
    touched |= {a["person_id"] for a in adds}
    touched |= {by_id[m["id"]] for m in moves} | {by_id[d] for d in drops}
    if drops:
        session.execute(delete(ContactPoint).where(col(ContactPoint.id).in_(drops)))
    if moves:
        session.execute(update(ContactPoint), moves)
    insert_ignoring_duplicates(session, ContactPoint, adds)
    return touched, unusable


def _additive(r: PersonRecord) -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    if r.postal_address:
        out.append((ContactKind.POSTAL, postal_value(r.postal_address), r.postal_address))
    out += [(ContactKind.PUSH, str(s["endpoint"]), s) for s in r.push_subscriptions]
    return out


def _point(pid: str, kind: str, value: str, details: dict[str, Any], rank: int) -> dict[str, Any]:
    return {"person_id": pid, "kind": kind, "value": value, "details": details, "preference": rank,
            "problem": None, "checked_at": None}  # fmt: skip


def sync_scope(
    engine: Engine, source: DirectorySource, scope: Mapping[str, Any], checks: Checks
) -> dict[str, str]:
    """Cache the people a live directory has in `scope` (and their guardians) into person and
    contact_point, batch by batch (new points checked with `checks`); return the problems of
    the rows read, by person id."""
    problems: dict[str, str] = {}
    pending: list[tuple[str, str, int]] = []
    for batch in source.people_in_scope(scope):
        pending += _cache(engine, batch, problems, checks)
    asked = sorted({g for _, g, _ in pending})
    for chunk in _chunks(asked, 5000):
        for batch in source.people_in_scope({"people": list(chunk)}):
            _cache(engine, batch, problems, checks)
    if pending:
        with Session(engine) as session:
            link_guardians(session, pending)
            session.commit()
    return problems


def _cache(
    engine: Engine, batch: list[PersonRecord], problems: dict[str, str], checks: Checks
) -> list[tuple[str, str, int]]:
    problems.update({r.id: "; ".join(r.problems)[:500] for r in batch if r.problems})
    with Session(engine) as session:
        result = upsert_records(session, batch, checks)
        session.commit()
    return result.guardians_pending
