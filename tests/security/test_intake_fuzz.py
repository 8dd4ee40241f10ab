"""Issue 23, item 13 (part): `incident clock` instants. Out-of-range and overflowing instants
exit 2 with the field and the rule, never a traceback; a Hypothesis property over any text."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incident.domain.timezones import parse_instant
from tests.security.cli_run import breachnotice

HOSTILE = [
    "0001-01-01T00:00+01:00",  # before year 1 in UTC: OverflowError
    "9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
    "9999-12-31T23:59:59+00:00",  # in range of datetime, but a deadline after it is not
    "1969-12-31T23:59:59+00:00",
    "2026-03-06T16:00:00",  # no offset
    "2026-13-06T16:00:00+01:00",
    "9" * 10_000,
    "\udcff",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_instant_is_refused_with_the_rule(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


@pytest.mark.parametrize("text", HOSTILE[:2])
def test_incident_clock_exits_2_naming_the_field_and_rule(tmp_path: object, text: str) -> None:
    env = {"BREACHNOTICE_DATABASE_URL": "sqlite:///:memory:"}
    done = breachnotice(
        "incident", "clock", "INC-X", "determined_at", "--at", text, env=env, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert f"at: {text!r} is invalid: must be between" in done.stderr
    assert "Traceback" not in done.stderr


@settings(max_examples=200, deadline=200)
@given(st.text(max_size=60) | st.datetimes().map(datetime.isoformat))
def test_any_text_is_an_instant_in_range_or_a_value_error(text: str) -> None:
    try:
        when = parse_instant(text)
    except ValueError:
        return
    assert when.utcoffset() is not None


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("id,name,country,name", "header: 'name' is invalid: duplicate column"),
        (",".join(f"c{i}" for i in range(1_000_000)), "more columns than the"),
    ],
    ids=["duplicate", "a-million-columns"],
)
def test_people_import_refuses_a_hostile_csv_header_at_once(
    sqlite_url: str, tmp_path: Path, header: str, says: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(header + "\np1,A,NL\n", encoding="utf-8")
    started = time.monotonic()
    done = breachnotice(
        "people", "import", str(path), env={"BREACHNOTICE_DATABASE_URL": sqlite_url}, cwd=tmp_path
    )
    assert done.returncode == 2 and says in done.stderr, done.stderr[:500]
    assert len(done.stderr) < 10_000 and time.monotonic() - started < 30
