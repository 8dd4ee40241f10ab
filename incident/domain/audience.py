"""Who is told, and at which contact points: pure decisions about one affected person."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from incident.domain.jurisdiction import jurisdiction_of


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """The parts of a directory record the audience decision needs."""

    id: str
    country: str
    region: str | None
    is_minor: bool
    birth_date: str | None
    guardian_id: str | None


@dataclass(frozen=True, slots=True)
class AudienceDecision:
    person_id: str
    jurisdiction: str
    is_minor: bool
    recipient_id: str
    problems: dict[str, str]  # findings to record, e.g. a minor without a guardian


def is_minor(entry: DirectoryEntry, *, today: date, age_of_majority: int) -> bool:
    if entry.is_minor:
        return True
    if not entry.birth_date:
        return False
    born = date.fromisoformat(entry.birth_date)
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age < age_of_majority


def decide_audience(
    entry: DirectoryEntry,
    guardian: DirectoryEntry | None,
    *,
    today: date,
    majority_ages: Mapping[str, int],
) -> AudienceDecision:
    """A minor is told through their guardian; a minor without one on file is told directly,
    and the missing guardian is recorded so a person follows it up (never dropped)."""
    minor = is_minor(
        entry,
        today=today,
        age_of_majority=majority_ages.get(entry.country, majority_ages.get("default", 18)),
    )
    recipient = guardian if (minor and guardian is not None) else entry
    problems: dict[str, str] = {}
    if minor and guardian is None:
        problems["guardian"] = "minor without a guardian on file; notified directly"
    return AudienceDecision(
        person_id=entry.id,
        jurisdiction=jurisdiction_of(entry.country, entry.region),
        is_minor=minor,
        recipient_id=recipient.id,
        problems=problems,
    )
