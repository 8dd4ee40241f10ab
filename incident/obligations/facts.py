"""What the engine needs to know about an incident, and the validation of a facts file.

Every problem in a facts file is reported at once as `InvalidInputs` of
`InvalidInput(field, value, rule)`, so the engineer fixes the file in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from incident.adapters.documents import load_document
from incident.domain.jurisdiction import is_valid_jurisdiction
from incident.domain.model import DataCategory, Severity
from incident.errors import InvalidInput, InvalidInputs, clipped

MAX_PERSONS = 10**10  # more than the people on Earth: a typing mistake
MAX_COST = 1e15
MAX_PROBLEMS = 50  # reported at once; a file with more is cut short with a count
# Instants outside these years are typing mistakes, and would overflow deadline arithmetic.
YEARS = range(1970, 2200)
# Optional instants that start some clocks; `aware_at` is the only required one.
CLOCK_FIELDS = (
    "discovered_at", "determined_at", "material_at", "assessed_at", "handled_at",
    "extortion_paid_at",
)  # fmt: skip
_KNOWN_KEYS = frozenset(
    {
        "aware_at",
        *CLOCK_FIELDS,
        "categories",
        "severity",
        "affected",
        "affected_by_category",
        "unreachable",
        "flags",
        "establishment",
        "notice_cost_usd",
        "law_enforcement_delay",
        "notified_at",
        "role",
    }
)
# The organisation's role for the incident's data: the controller decides why and how they are
# processed; a processor processes them for a controller (GDPR Art. 4(7), (8)) and tells it.
ROLES = ("controller", "processor")
# `notified_at` keys: the rule stage whose notice was actually sent, "<rule id>/<stage>", or
# "<rule id>/<stage>/<authority jurisdiction>" where a rule has one obligation per authority.
NOTICE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*/[a-z0-9_]+(/[A-Z]{2}(-[A-Z0-9]{1,3})?)?$")


_DELAY_KEYS = frozenset({"start", "end", "national_security"})


@dataclass(frozen=True, slots=True)
class LawEnforcementDelay:
    """A recorded request by police or a prosecutor to hold notices; `end` None = still in force."""

    start: datetime
    end: datetime | None = None
    # A US Attorney General finding of substantial risk to national security or public safety
    # (SEC Form 8-K Item 1.05(c)): the only delay the SEC rule allows.
    national_security: bool = False


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    aware_at: datetime
    categories: frozenset[DataCategory]
    severity: Severity
    affected: Mapping[str, int]
    unreachable: Mapping[str, int] = field(default_factory=dict)
    # Persons per jurisdiction and data category exposed for them (forensic records can differ
    # per person): {"NL": {"contact": 120, "payment": 3}}. Empty when not known.
    affected_by_category: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    flags: Mapping[str, bool] = field(default_factory=dict)
    discovered_at: datetime | None = None
    determined_at: datetime | None = None
    material_at: datetime | None = None
    assessed_at: datetime | None = None
    handled_at: datetime | None = None
    extortion_paid_at: datetime | None = None  # 23 NYCRR 500.17(c): an extortion payment made
    establishment: str | None = None  # EU member state of main establishment or representative
    notice_cost_usd: float | None = None
    law_enforcement_delay: LawEnforcementDelay | None = None
    # When each notice was actually sent: {"us-ca-individuals/notice": instant}. Clocks that
    # run from a notice (`sent:` starts) start here, not at the earlier notice's deadline.
    notified_at: Mapping[str, datetime] = field(default_factory=dict)
    role: str = "controller"  # controller | processor (for the data of this incident)

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name, False))

    @property
    def total_affected(self) -> int:
        return sum(self.affected.values())


def load_facts_file(path: Path, known_flags: Iterable[str]) -> IncidentFacts:
    """A YAML/JSON facts file: `DocumentError` when it is not a readable document,
    `InvalidInputs` when its facts are wrong."""
    data = load_document(path)
    if not isinstance(data, dict):
        raise InvalidInputs([InvalidInput("file", str(path), "must be a YAML mapping of facts")])
    return parse_facts(data, known_flags)


def parse_facts(data: Mapping[Any, Any], known_flags: Iterable[str]) -> IncidentFacts:
    """Validate a facts mapping (from YAML or the database) into `IncidentFacts`."""
    errors: list[InvalidInput] = []
    for key in data:
        if key not in _KNOWN_KEYS:
            rule = f"unknown field; use {sorted(_KNOWN_KEYS)}"
            errors.append(InvalidInput(str(clipped(key)) or "''", clipped(data[key]), rule))
    aware_at = _instant(data, "aware_at", errors, required=True)
    facts_kw: dict[str, Any] = {name: _instant(data, name, errors) for name in CLOCK_FIELDS}
    facts_kw |= {
        "categories": _categories(data.get("categories", []), errors),
        "severity": _severity(data.get("severity"), errors),
        "affected": _counts(data.get("affected", {}), "affected", errors),
        "unreachable": _counts(_or_empty(data.get("unreachable")), "unreachable", errors),
        "affected_by_category": _category_counts(data.get("affected_by_category"), errors),
        "flags": _flags(_or_empty(data.get("flags")), set(known_flags), errors),
        "establishment": _establishment(data.get("establishment"), errors),
        "notice_cost_usd": _cost(data.get("notice_cost_usd"), errors),
        "law_enforcement_delay": _delay(data.get("law_enforcement_delay"), errors),
        "notified_at": _notified(_or_empty(data.get("notified_at")), errors),
        "role": _role(data.get("role"), errors),
    }
    _check_unreachable(facts_kw["affected"], facts_kw["unreachable"], errors)
    if errors or aware_at is None:
        raise InvalidInputs(_at_most(errors))
    return IncidentFacts(aware_at=aware_at, **facts_kw)


def _or_empty(value: Any) -> Any:
    return {} if value is None else value


def _at_most(errors: list[InvalidInput]) -> list[InvalidInput]:
    if len(errors) <= MAX_PROBLEMS:
        return errors
    more = len(errors) - MAX_PROBLEMS
    return [*errors[:MAX_PROBLEMS], InvalidInput("(file)", more, "more problems not shown")]


def _instant(
    data: Mapping[Any, Any], name: str, errors: list[InvalidInput], *, required: bool = False
) -> datetime | None:
    value = data.get(name)
    if value is None:
        if required:
            errors.append(InvalidInput(name, None, "is required: an ISO 8601 time with offset"))
        return None
    return _as_instant(name, value, errors)


def _as_instant(name: str, value: Any, errors: list[InvalidInput]) -> datetime | None:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if isinstance(parsed, datetime) and parsed.utcoffset() is not None:
        if parsed.year in YEARS and parsed.astimezone(UTC).year in YEARS:
            return parsed
        rule = f"must be between the years {YEARS.start} and {YEARS.stop - 1}"
    elif isinstance(parsed, datetime) or isinstance(value, date):
        rule = "needs a time and a UTC offset, e.g. 2026-03-06T16:00:00+01:00"
    else:
        rule = "must be an ISO 8601 time with offset, e.g. 2026-03-06T16:00:00+01:00"
    shown = value.isoformat() if isinstance(value, date) else clipped(value)
    errors.append(InvalidInput(name, shown, rule))
    return None


def _categories(value: Any, errors: list[InvalidInput]) -> frozenset[DataCategory]:
    if not isinstance(value, list):
        errors.append(InvalidInput("categories", clipped(value), "must be a list of category ids"))
        return frozenset()
    known = {c.value for c in DataCategory}
    good = set()
    for item in value:
        if isinstance(item, str) and item in known:
            good.add(DataCategory(item))
        else:
            rule = f"unknown data category; use {sorted(known)}"
            errors.append(InvalidInput("categories", clipped(item), rule))
    return frozenset(good)


def _severity(value: Any, errors: list[InvalidInput]) -> Severity:
    names = [s.value for s in Severity]
    if isinstance(value, str) and value in names:
        return Severity(value)
    errors.append(InvalidInput("severity", clipped(value), f"must be one of {names}"))
    return Severity.LOW


def _counts(value: Any, name: str, errors: list[InvalidInput]) -> dict[str, int]:
    if not isinstance(value, dict):
        rule = "must map jurisdictions to person counts"
        errors.append(InvalidInput(name, clipped(value), rule))
        return {}
    counts: dict[str, int] = {}
    for code, n in value.items():
        if not isinstance(code, str) or not is_valid_jurisdiction(code):
            hint = (
                " (quote NO for Norway: YAML reads it as false)" if isinstance(code, bool) else ""
            )
            rule = f"unknown jurisdiction: use an ISO 3166 code such as NL or US-CA{hint}"
            errors.append(InvalidInput(f"{name}.{clipped(code)}", clipped(code), rule))
        elif isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_PERSONS:
            rule = "must be a whole number, 0 or more (at most 10^10)"
            errors.append(InvalidInput(f"{name}.{code}", clipped(n), rule))
        else:
            counts[code] = n
    return counts


def _category_counts(value: Any, errors: list[InvalidInput]) -> dict[str, dict[str, int]]:
    """{jurisdiction: {category: persons}}; validated like `affected`."""
    name = "affected_by_category"
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(InvalidInput(name, clipped(value), "must map jurisdictions to counts"))
        return {}
    known = {c.value for c in DataCategory}
    out: dict[str, dict[str, int]] = {}
    for code, counts in value.items():
        where = f"{name}.{clipped(code)}"
        if not isinstance(code, str) or not is_valid_jurisdiction(code):
            errors.append(InvalidInput(where, clipped(code), "unknown jurisdiction"))
            continue
        if not isinstance(counts, dict):
            errors.append(InvalidInput(where, clipped(counts), "must map categories to counts"))
            continue
        for category, n in counts.items():
            if category not in known:
                rule = f"unknown data category; use {sorted(known)}"
                errors.append(InvalidInput(where, clipped(category), rule))
            elif isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_PERSONS:
                rule = "must be a whole number, 0 or more (at most 10^10)"
                errors.append(InvalidInput(f"{where}.{category}", clipped(n), rule))
            else:
                out.setdefault(code, {})[category] = n
    return out


def _flags(value: Any, known: set[str], errors: list[InvalidInput]) -> dict[str, bool]:
    if not isinstance(value, dict):
        rule = "must map flag names to true or false"
        errors.append(InvalidInput("flags", clipped(value), rule))
        return {}
    flags = {}
    for name, on in value.items():
        if not isinstance(name, str) or name not in known:
            rule = f"unknown flag; use {sorted(known)}"
            errors.append(InvalidInput(f"flags.{clipped(name)}", clipped(name), rule))
        elif not isinstance(on, bool):
            errors.append(InvalidInput(f"flags.{name}", clipped(on), "must be true or false"))
        else:
            flags[name] = on
    return flags


def _establishment(value: Any, errors: list[InvalidInput]) -> str | None:
    if value is None or (isinstance(value, str) and is_valid_jurisdiction(value)):
        return value
    rule = "must be an ISO 3166 code such as NL"
    errors.append(InvalidInput("establishment", clipped(value), rule))
    return None


def _role(value: Any, errors: list[InvalidInput]) -> str:
    if value is None or value in ROLES:
        return value or "controller"
    errors.append(InvalidInput("role", clipped(value), f"must be one of {list(ROLES)}"))
    return "controller"


def _cost(value: Any, errors: list[InvalidInput]) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_COST  # also refuses NaN
    ):
        rule = "must be a number, 0 or more (at most 10^15)"
        errors.append(InvalidInput("notice_cost_usd", clipped(value), rule))
        return None
    return float(value)


def _delay(value: Any, errors: list[InvalidInput]) -> LawEnforcementDelay | None:
    if value is None:
        return None
    name = "law_enforcement_delay"
    if not isinstance(value, dict) or "start" not in value or set(value) - _DELAY_KEYS:
        rule = "must be a mapping with start, optional end and national_security"
        errors.append(InvalidInput(name, clipped(value), rule))
        return None
    start = _as_instant(f"{name}.start", value["start"], errors)
    end = None
    if value.get("end") is not None:
        end = _as_instant(f"{name}.end", value["end"], errors)
    if start is not None and end is not None and end < start:
        errors.append(InvalidInput(f"{name}.end", value["end"], "must not be before start"))
    national_security = value.get("national_security", False)
    if not isinstance(national_security, bool):
        rule = "must be true or false"
        errors.append(InvalidInput(f"{name}.national_security", clipped(national_security), rule))
    if start is None:
        return None
    return LawEnforcementDelay(start, end, national_security is True)


def _notified(value: Any, errors: list[InvalidInput]) -> dict[str, datetime]:
    if not isinstance(value, dict):
        rule = "must map rule stages (e.g. lgpd-authority/notification) to when notice was sent"
        errors.append(InvalidInput("notified_at", clipped(value), rule))
        return {}
    out: dict[str, datetime] = {}
    for key, when in value.items():
        if not isinstance(key, str) or not NOTICE_KEY.match(key):
            rule = "must be <rule id>/<stage> or <rule id>/<stage>/<jurisdiction>"
            errors.append(InvalidInput(f"notified_at.{clipped(key)}", clipped(key), rule))
            continue
        instant = _as_instant(f"notified_at.{key}", when, errors)
        if instant is not None:
            out[key] = instant
    return dict(sorted(out.items()))


def _check_unreachable(
    affected: Mapping[str, int], unreachable: Mapping[str, int], errors: list[InvalidInput]
) -> None:
    for code, n in unreachable.items():
        if n > affected.get(code, 0):
            rule = f"cannot exceed the persons affected there ({affected.get(code, 0)})"
            errors.append(InvalidInput(f"unreachable.{code}", n, rule))
