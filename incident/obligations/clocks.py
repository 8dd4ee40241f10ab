"""Deadline arithmetic that is right to the hour.

- `hours` are real elapsed hours: 72 h across a daylight-saving change is still 72 h.
- `calendar_days` and `months` keep the wall-clock time in the authority's time zone:
  16:00 in Amsterdam plus 30 days is 16:00 in Amsterdam, whatever the offset became.
- `business_days` skip the authority's weekend and public holidays; the day the clock starts
  is not counted, and the deadline is the end (23:59:59) of the last business day counted, or
  an earlier cut-off where the authority closes its books sooner (EDGAR: 17:30 ET).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from incident.domain.jurisdiction import country_of
from incident.obligations.facts import LawEnforcementDelay

END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True, slots=True)
class AuthorityCalendar:
    """Where an authority sits: its time zone and its public holidays."""

    jurisdiction: str
    zone: ZoneInfo
    holiday_calendar: str  # "BR-DF", "US", "" for none
    _holidays: Any = field(default=None, compare=False, repr=False)
    closures: tuple[str, ...] = ()  # "MM-DD" days the authority is closed every year

    def is_business_day(self, day: date) -> bool:
        weekend = getattr(self._holidays, "weekend", {5, 6}) if self._holidays else {5, 6}
        if day.weekday() in weekend or day.strftime("%m-%d") in self.closures:
            return False
        return self._holidays is None or day not in self._holidays


@lru_cache(maxsize=256)
def authority_calendar(
    jurisdiction: str, zone: str, holiday_calendar: str, closures: tuple[str, ...] = ()
) -> AuthorityCalendar:
    """The calendar of an authority; an unknown holiday calendar falls back to weekends only."""
    return AuthorityCalendar(
        jurisdiction, ZoneInfo(zone), holiday_calendar, _holidays_of(holiday_calendar), closures
    )


def _holidays_of(code: str) -> Any:
    if not code:
        return None
    country, _, subdiv = code.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError:
        try:
            return holidays.country_holidays(country)
        except NotImplementedError:
            return None


def default_holiday_calendar(jurisdiction: str) -> str:
    """`US-CA` -> `US-CA` (state holidays where the package knows them), `NL` -> `NL`."""
    return jurisdiction if "-" in jurisdiction else country_of(jurisdiction)


def add_hours(start: datetime, hours: float) -> datetime:
    return (start.astimezone(UTC) + timedelta(hours=hours)).astimezone(start.tzinfo)


def add_calendar_days(start: datetime, days: int, cal: AuthorityCalendar) -> datetime:
    local = start.astimezone(cal.zone)
    wall = local.replace(tzinfo=None) + timedelta(days=days)
    return _localise(wall, cal.zone)


def end_of_local_day(instant: datetime, cal: AuthorityCalendar) -> datetime:
    """23:59:59 of the day `instant` falls on, in the authority's time zone."""
    return _localise(datetime.combine(instant.astimezone(cal.zone).date(), END_OF_DAY), cal.zone)


def add_months(start: datetime, months: int, cal: AuthorityCalendar) -> datetime:
    local = start.astimezone(cal.zone)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return _localise(local.replace(tzinfo=None, year=year, month=month, day=day), cal.zone)


def add_business_days(
    start: datetime, days: int, cal: AuthorityCalendar, ends: time = END_OF_DAY
) -> datetime:
    """The `days`-th business day after the local date of `start`, at `ends` (default: the end
    of that day; 17:30 for an EDGAR filing, 17 CFR 232.13(a)(2))."""
    day = start.astimezone(cal.zone).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if cal.is_business_day(day):
            counted += 1
    return _localise(datetime.combine(day, ends), cal.zone)


def roll_to_business_day(due: datetime, cal: AuthorityCalendar) -> datetime:
    """A deadline falling on a day the authority is closed moves to the next business day, at
    the same wall-clock time (Japan: Act on Holidays of Administrative Organs, Art. 2)."""
    local = due.astimezone(cal.zone)
    day = local.date()
    while not cal.is_business_day(day):
        day += timedelta(days=1)
    if day == local.date():
        return local
    return _localise(datetime.combine(day, local.time()), cal.zone)


def start_of_next_year(instant: datetime, cal: AuthorityCalendar) -> datetime:
    """The end of the calendar year `instant` falls in, as the authority counts it."""
    local = instant.astimezone(cal.zone)
    return _localise(datetime(local.year + 1, 1, 1), cal.zone)


def _localise(wall: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone`; a time skipped by DST moves forward by the gap."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)


def paused(
    due: datetime, clock_start: datetime, delay: LawEnforcementDelay
) -> tuple[datetime | None, str]:
    """`due` pushed back by a law-enforcement delay that began before it; None while in force."""
    if delay.start >= due:
        return due, "law-enforcement delay recorded after the deadline: no effect"
    begin = max(delay.start, clock_start)
    if delay.end is None:
        return None, f"clock paused by a law-enforcement delay since {begin.isoformat()}"
    if delay.end <= begin:
        return due, "law-enforcement delay ended before the clock started: no effect"
    held = delay.end - begin
    return add_hours(
        due, held.total_seconds() / 3600
    ), f"clock paused {_span(held)} by a law-enforcement delay"


# SEC Form 8-K Item 1.05(c): up to 30 days, a further 30, then up to 60 more (national security
# only): no Attorney General postponement reaches beyond 120 days after the original due time.
MAX_POSTPONEMENT_DAYS = 120
PUBLIC_SAFETY_POSTPONEMENT_DAYS = 60


def postponed(due: datetime, delay: LawEnforcementDelay) -> tuple[datetime | None, str]:
    """`due` postponed to the end of the period an Attorney General finding specifies (SEC Form
    8-K Item 1.05(c)): the period runs from the date the filing was otherwise due; it is not a
    pause of the clock. A finding made at or before the due time takes effect."""
    if delay.start > due:
        return due, "Attorney General finding recorded after the filing was due: no effect"
    if delay.end is None:
        return None, (
            f"filing postponed by an Attorney General finding (Item 1.05(c)): due when the period "
            f"the Attorney General specifies ends, up to 30 days after {due.isoformat()}; "
            "record the end of that period"
        )
    if delay.end <= due:
        return due, "the Attorney General's period ended before the filing was due: no effect"
    cap = due + timedelta(days=MAX_POSTPONEMENT_DAYS)
    new_due = min(delay.end, cap).astimezone(due.tzinfo)
    note = (
        "filing postponed to the end of the period the Attorney General specified "
        f"({_span(new_due - due)} after the original due time; Item 1.05(c))"
    )
    if delay.end > cap:
        note += f"; capped at {MAX_POSTPONEMENT_DAYS} days, the longest Item 1.05(c) allows"
    elif delay.end > due + timedelta(days=PUBLIC_SAFETY_POSTPONEMENT_DAYS):
        note += "; beyond 60 days only on a national-security (not public-safety) finding"
    return new_due, note


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"
