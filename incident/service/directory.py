"""Writing the user directory: a person row and their contact points, from one flat record.

A record may carry `email`/`emails`, `phone`/`phones`, `postal_address` (structured fields) and
`push_subscriptions` (Web Push subscription objects); each becomes a `ContactPoint` row, in
the order given (its preference). Existing people and contact points are kept as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from channels.base import ContactKind
from incident.adapters.db import insert_ignoring_duplicates
from incident.adapters.tables import ContactPoint, Person
from incident.domain.contacts import StoredContact

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


def save_people(session: Session, records: Iterable[Mapping[str, Any]]) -> int:
    """Insert people and their contact points (existing rows are kept); the caller commits."""
    people: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for record in records:
        person = {k: record.get(k, default) for k, default in _PERSON_DEFAULTS.items()}
        people.append(
            {**person, "id": record["id"], "name": record["name"], "country": record["country"]}
        )
        points.extend(contact_points_of(record))
    insert_ignoring_duplicates(session, Person, people)
    insert_ignoring_duplicates(session, ContactPoint, points)
    return len(people)


def load_contacts(
    session: Session, person_ids: set[str], kinds: Iterable[str]
) -> dict[str, list[StoredContact]]:
    """These people's contact points of the kinds in use, by person (plain rows, not ORM
    objects: this is on the hot path)."""
    table = ContactPoint.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(
            table.c.id,
            table.c.person_id,
            table.c.kind,
            table.c.value,
            table.c.details,
            table.c.preference,
            table.c.problem,
        ).where(table.c.person_id.in_(person_ids), table.c.kind.in_(list(kinds)))
    ).all()
    out: dict[str, list[StoredContact]] = {}
    for row in rows:
        out.setdefault(row[1], []).append(StoredContact(*row))
    return out
