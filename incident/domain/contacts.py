"""Contact points: which of a person's ways of being reached a channel can use. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.base import ContactCheck, ContactPointData

Checks = Mapping[str, ContactCheck]  # contact kind -> the check of the channels using it


@dataclass(frozen=True, slots=True)
class StoredContact:
    """A contact point as stored: its row id, its preference and the problem found, if any."""

    id: int
    person_id: str
    kind: str
    value: str
    details: Mapping[str, Any] = field(default_factory=dict)
    preference: int = 0
    problem: str | None = None
    checked: bool = False  # `problem` is a verdict (a check, a bounce, a refusal), not unknown

    def as_data(self, country: str | None) -> ContactPointData:
        return ContactPointData(self.kind, self.value, self.details, country)


def usable_contact_points(
    kinds: Sequence[str], points: Iterable[StoredContact]
) -> list[StoredContact]:
    """The one answer to "which contact points of this person can this channel use": those of
    the channel's kinds without a recorded problem, most preferred first."""
    usable = [p for p in points if p.kind in kinds and p.problem is None]
    return sorted(usable, key=lambda p: (kinds.index(p.kind), p.preference, p.id))


def check_points(
    points: Iterable[StoredContact], checks: Mapping[str, ContactCheck], country: str | None
) -> dict[int, str | None]:
    """The problem each point of a kind in use has (None: usable): the verdict on record when
    there is one (checked when it was written, or since returned by a provider), else the
    check's now. Points of kinds no channel in use needs are left alone. A check that raises
    is a problem of that point, not a crash."""
    found: dict[int, str | None] = {}
    for point in points:
        check = checks.get(point.kind)
        if check is None:
            continue
        if point.checked:
            found[point.id] = point.problem
            continue
        found[point.id] = problem_of(point.as_data(country), check)
    return found


def problem_of(point: ContactPointData, check: ContactCheck) -> str | None:
    """The check's verdict; a check that raises is a problem of that point, never a crash."""
    try:
        return check(point)
    except Exception as exc:
        return f"could not be checked: {type(exc).__name__}"


def kind_problems(
    kinds: Iterable[str], points: Sequence[StoredContact], problems: Mapping[int, str | None]
) -> dict[str, str]:
    """Per contact kind in use, why none of the person's points of that kind is usable."""
    out: dict[str, str] = {}
    for kind in kinds:
        mine = [p for p in points if p.kind == kind]
        if not mine:
            out[kind] = "missing"
            continue
        reasons = [problems.get(p.id, p.problem) for p in mine]
        if all(reasons):
            out[kind] = "; ".join(dict.fromkeys(r for r in reasons if r))
    return out
