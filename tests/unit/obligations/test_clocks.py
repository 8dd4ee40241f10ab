"""Deadline arithmetic: real hours, wall-clock days, business days with holidays and time zones."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incident.obligations.clocks import (
    add_business_days,
    add_calendar_days,
    add_hours,
    add_months,
    authority_calendar,
    paused,
    start_of_next_year,
)
from incident.obligations.facts import LawEnforcementDelay

AMS = ZoneInfo("Europe/Amsterdam")
BRASILIA = authority_calendar("BR", "America/Sao_Paulo", "BR-DF")
SEC = authority_calendar("US", "America/New_York", "US")
NL = authority_calendar("NL", "Europe/Amsterdam", "NL")
LA = authority_calendar("US-CA", "America/Los_Angeles", "US-CA")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_72_hours_across_the_eu_summer_time_change_are_72_real_hours() -> None:
    aware = at("2026-03-27T10:00:00+01:00")  # clocks go forward on Sunday 29 March
    due = add_hours(aware, 72).astimezone(AMS)
    assert due == at("2026-03-30T11:00:00+02:00")
    assert due - aware == timedelta(hours=72)


def test_72_hours_across_the_eu_winter_time_change_are_72_real_hours() -> None:
    aware = at("2026-10-23T10:00:00+02:00")  # clocks go back on Sunday 25 October
    assert add_hours(aware, 72).astimezone(AMS) == at("2026-10-26T09:00:00+01:00")


def test_calendar_days_keep_the_wall_clock_time_across_us_daylight_saving() -> None:
    discovered = at("2026-03-01T09:00:00-08:00")  # US clocks go forward on 8 March
    assert add_calendar_days(discovered, 30, LA) == at("2026-03-31T09:00:00-07:00")


def test_calendar_days_count_in_the_authoritys_time_zone() -> None:
    # 23:30 in Amsterdam is already the next day in Tokyo; 30 days later at the same instant.
    aware = at("2026-03-06T23:30:00+01:00")
    tokyo = authority_calendar("JP", "Asia/Tokyo", "JP")
    assert add_calendar_days(aware, 30, tokyo) == at("2026-04-06T07:30:00+09:00")


def test_a_wall_clock_time_skipped_by_daylight_saving_moves_forward() -> None:
    start = at("2026-02-08T02:30:00-08:00")
    assert add_calendar_days(start, 28, LA) == at("2026-03-08T03:30:00-07:00")


def test_business_days_skip_the_weekend_and_good_friday_in_brasilia() -> None:
    knowledge = at("2026-04-01T15:00:00-03:00")  # Wednesday; Good Friday is 3 April
    assert add_business_days(knowledge, 3, BRASILIA) == at("2026-04-07T23:59:59-03:00")


def test_business_days_start_from_the_local_date_of_the_authority() -> None:
    # 02:00 Wednesday in Amsterdam is still Tuesday evening in Brasília.
    knowledge = at("2026-04-01T02:00:00+02:00")
    assert add_business_days(knowledge, 3, BRASILIA) == at("2026-04-06T23:59:59-03:00")


def test_business_days_skip_tiradentes_and_labour_day() -> None:
    start = at("2026-04-07T23:59:59-03:00")
    assert add_business_days(start, 20, BRASILIA) == at("2026-05-07T23:59:59-03:00")


def test_sec_business_days_skip_thanksgiving() -> None:
    material = at("2026-11-25T10:00:00-05:00")  # Thanksgiving is Thursday 26 November
    assert add_business_days(material, 4, SEC) == at("2026-12-02T23:59:59-05:00")


def test_a_business_day_deadline_can_end_at_an_earlier_cut_off() -> None:
    material = at("2026-11-25T10:00:00-05:00")
    cut_off = add_business_days(material, 4, SEC, time(17, 30))
    assert cut_off == at("2026-12-02T17:30:00-05:00")


def test_a_clock_started_on_a_saturday_counts_from_monday() -> None:
    start = at("2026-03-07T12:00:00+01:00")
    assert add_business_days(start, 1, NL) == at("2026-03-09T23:59:59+01:00")


def test_dutch_kings_day_is_not_a_business_day() -> None:
    start = at("2026-04-24T12:00:00+02:00")  # Friday; King's Day is Monday 27 April
    assert add_business_days(start, 1, NL) == at("2026-04-28T23:59:59+02:00")


def test_an_unknown_holiday_calendar_falls_back_to_weekends_only() -> None:
    cal = authority_calendar("EU", "Europe/Brussels", "")
    start = at("2026-12-24T12:00:00+01:00")
    assert add_business_days(start, 1, cal) == at("2026-12-25T23:59:59+01:00")


def test_one_month_keeps_the_day_and_wall_clock_time() -> None:
    start = at("2026-03-09T16:00:00+01:00")
    assert add_months(start, 1, NL) == at("2026-04-09T16:00:00+02:00")


def test_one_month_from_the_31st_ends_on_the_last_day_of_a_short_month() -> None:
    start = at("2026-01-31T10:00:00+01:00")
    assert add_months(start, 1, NL) == at("2026-02-28T10:00:00+01:00")


def test_the_end_of_the_calendar_year_is_new_year_midnight_at_the_authority() -> None:
    discovered = at("2026-12-31T23:30:00-08:00")  # already 2027 in Washington, DC
    assert start_of_next_year(discovered, SEC) == at("2028-01-01T00:00:00-05:00")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-03-07T00:00:00+00:00", "2026-03-17T00:00:00+00:00", "2026-04-15T00:00:00+00:00"),
        ("2026-03-01T00:00:00+00:00", "2026-03-11T00:00:00+00:00", "2026-04-11T00:00:00+00:00"),
    ],
)
def test_a_law_enforcement_delay_pauses_the_clock_for_its_length_once_it_has_started(
    start: str, end: str, expected: str
) -> None:
    clock_start, due = at("2026-03-05T00:00:00+00:00"), at("2026-04-05T00:00:00+00:00")
    new_due, note = paused(due, clock_start, LawEnforcementDelay(at(start), at(end)))
    # A delay recorded before the clock started only counts from the clock start.
    held = at(end) - max(at(start), clock_start)
    assert new_due == due + held == at(expected)
    assert "paused" in note


def test_an_open_law_enforcement_delay_leaves_no_due_time() -> None:
    due, note = paused(
        at("2026-04-05T00:00:00+00:00"),
        at("2026-03-05T00:00:00+00:00"),
        LawEnforcementDelay(at("2026-03-10T00:00:00+00:00")),
    )
    assert due is None and "since" in note


def test_a_delay_asked_for_after_the_deadline_changes_nothing() -> None:
    due = at("2026-04-05T00:00:00+00:00")
    assert paused(due, at("2026-03-05T00:00:00+00:00"), LawEnforcementDelay(due))[0] == due
