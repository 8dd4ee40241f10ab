"""The small condition language of the rules file, and its evaluation against an incident.

A condition is a TOML table whose keys are ANDed; `any_of` ORs sub-conditions and `unless`
names an exemption. Evaluation returns whether it holds and, in words, what matched: the
engine puts those words in each obligation's `reason`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, model_validator

from incident.domain.model import DataCategory, Severity
from incident.obligations.facts import IncidentFacts

SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)


class Count(BaseModel):
    """A threshold on a number, written the way the law words it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_least: int | None = None
    more_than: int | None = None
    fewer_than: int | None = None
    at_most: int | None = None

    @model_validator(mode="after")
    def _one_bound_at_least(self) -> Count:
        if all(v is None for v in (self.at_least, self.more_than, self.fewer_than, self.at_most)):
            raise ValueError("give at least one of at_least, more_than, fewer_than, at_most")
        return self

    def holds(self, n: float) -> bool:
        return (
            (self.at_least is None or n >= self.at_least)
            and (self.more_than is None or n > self.more_than)
            and (self.fewer_than is None or n < self.fewer_than)
            and (self.at_most is None or n <= self.at_most)
        )

    def words(self) -> str:
        parts = [
            f"{label} {value:,}"
            for label, value in (
                ("at least", self.at_least),
                ("more than", self.more_than),
                ("fewer than", self.fewer_than),
                ("at most", self.at_most),
            )
            if value is not None
        ]
        return " and ".join(parts)


class Condition(BaseModel):
    """`applies_when` and the `when` of substitute-notice cases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jurisdictions: tuple[str, ...] = ()  # only at the top of applies_when (engine groups by it)
    not_jurisdictions: tuple[str, ...] = ()
    persons: Count | None = None  # persons in the jurisdictions this obligation covers
    all_persons: Count | None = None  # persons in every jurisdiction of the incident
    unreachable: Count | None = None  # persons without usable contact, same jurisdictions
    notice_cost_usd: Count | None = None
    categories_any: tuple[DataCategory, ...] = ()
    flags: dict[str, bool] = {}
    severity_at_least: Severity | None = None
    severity_at_most: Severity | None = None
    any_of: tuple[Condition, ...] = ()
    unless: Condition | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """The slice of the incident one obligation covers: its jurisdictions and their counts."""

    label: str
    jurisdictions: tuple[str, ...]
    persons: int
    unreachable: int


def evaluate(cond: Condition, facts: IncidentFacts, scope: Scope) -> tuple[bool, list[str]]:
    """Whether `cond` holds for `scope` of the incident, and the matched facts in words."""
    words: list[str] = []
    for check in (_counts, _categories, _flags, _severity):
        ok, said = check(cond, facts, scope)
        if not ok:
            return False, []
        words += said
    if cond.any_of:
        alternatives = [evaluate(alt, facts, scope) for alt in cond.any_of]
        matched = [" and ".join(w) for ok, w in alternatives if ok]
        if not matched:
            return False, []
        words.append(" / ".join(m for m in matched if m))
    if cond.unless is not None:
        exempt, why = evaluate(cond.unless, facts, scope)
        if exempt:
            return False, [f"exempt: {' and '.join(why)}"]
    return True, words


def _counts(cond: Condition, facts: IncidentFacts, scope: Scope) -> tuple[bool, list[str]]:
    where = ", ".join(scope.jurisdictions) or "all jurisdictions"
    checks: list[tuple[Count | None, float | None, str]] = [
        (cond.persons, scope.persons, f"persons in {where}"),
        (cond.all_persons, facts.total_affected, "persons in all jurisdictions"),
        (cond.unreachable, scope.unreachable, f"unreachable persons in {where}"),
        (cond.notice_cost_usd, facts.notice_cost_usd, "estimated cost of notice (USD)"),
    ]
    words = []
    for count, value, label in checks:
        if count is None:
            continue
        if value is None or not count.holds(value):
            return False, []
        words.append(f"{label}: {value:,} ({count.words()})")
    return True, words


def _categories(cond: Condition, facts: IncidentFacts, _scope: Scope) -> tuple[bool, list[str]]:
    if not cond.categories_any:
        return True, []
    hit = sorted(c.value for c in cond.categories_any if c in facts.categories)
    if not hit:
        return False, []
    return True, [f"data categories include {', '.join(hit)}"]


def _flags(cond: Condition, facts: IncidentFacts, _scope: Scope) -> tuple[bool, list[str]]:
    words = []
    for flag, wanted in sorted(cond.flags.items()):
        if facts.flag(flag) != wanted:
            return False, []
        words.append(f"{flag}" if wanted else f"not {flag}")
    return True, words


def _severity(cond: Condition, facts: IncidentFacts, _scope: Scope) -> tuple[bool, list[str]]:
    rank = SEVERITY_ORDER.index(facts.severity)
    low, high = cond.severity_at_least, cond.severity_at_most
    if low is not None and rank < SEVERITY_ORDER.index(low):
        return False, []
    if high is not None and rank > SEVERITY_ORDER.index(high):
        return False, []
    if low is None and high is None:
        return True, []
    bound = f"at least {low}" if low is not None else f"at most {high}"
    return True, [f"severity {facts.severity} ({bound})"]
