"""The sample incident moved in time as one piece: every instant by the same whole number of
days, and the dates its texts mention ("On 18 November", "Am 18. November", "11月18日") with
them, written each locale's way, so the notice never contradicts itself."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from incident.domain.content import SECTIONS
from incident.domain.incident_spec import IncidentSpec

INSTANTS = ("occurred_at", "discovered_at", "aware_at")
_YEAR = re.compile(r"\s*(?:de\s+)?\{year\}年?")  # "{day} {month} {year}" -> "{day} {month}"


def written_dates(value: date, wording: Any) -> tuple[str, str]:
    """`value` as a text says it in the wording's locale: with the year, and without it."""
    month = wording.months[value.month - 1]
    full = wording.date_pattern.format(day=value.day, month=month, year=value.year)
    short = _YEAR.sub("", wording.date_pattern).strip().format(day=value.day, month=month)
    return full, short


def shift_sample(
    spec: IncidentSpec, *, aware_by: datetime, wording: Callable[[str], Any]
) -> IncidentSpec:
    """`spec` moved the whole days that put its awareness at or just before `aware_by`:
    occurred, discovered and aware move together, and so do the dates written in its texts
    (`wording(locale)` gives the locale's `months` and `date_pattern`)."""
    days = math.floor((aware_by - spec.aware_at) / timedelta(days=1))
    delta = timedelta(days=days)
    moved: dict[str, Any] = {
        name: value + delta for name in INSTANTS if (value := getattr(spec, name)) is not None
    }
    for section in SECTIONS:
        texts: Mapping[str, str] = getattr(spec, section) or {}
        moved[section] = {
            locale: _rewrite(text, spec, delta, wording(locale)) for locale, text in texts.items()
        }
    return spec.model_copy(update=moved)


def _rewrite(text: str, spec: IncidentSpec, delta: timedelta, wording: Any) -> str:
    changes: dict[str, str] = {}
    for name in INSTANTS:
        value = getattr(spec, name)
        if value is None:
            continue
        for old, new in zip(
            written_dates(value.date(), wording),
            written_dates((value + delta).date(), wording),
            strict=True,
        ):
            changes.setdefault(old, new)
    if not changes:
        return text
    # One pass, longest first: "18 November 2026" before "18 November", no change re-changed.
    keys = "|".join(re.escape(k) for k in sorted(changes, key=len, reverse=True))
    found = re.compile(rf"(?<!\d)(?:{keys})")
    return found.sub(lambda m: changes[m.group(0)], text)
