"""'Whichever is sooner' clocks: a regulator notice due at a fixed term or when individuals are
told, whichever comes first, moves earlier once the individual notice is recorded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from incident.errors import ConfigError
from incident.obligations.rules_loader import default_rules_path, load_rules
from tests.unit.obligations.conftest import Assess

START = "2026-03-02T12:00:00+00:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_arkansas_ag_at_45_days_while_no_resident_is_told(obligations: Assess) -> None:
    found = obligations(affected={"US-AR": 1001}, categories=["payment"], determined_at=START)
    ob = found["us-ar-authority/report/US-AR"]
    assert ob.due == at("2026-04-16T06:00:00-05:00")  # 06:00 in Little Rock, 45 days on
    assert "if sooner" in ob.clock_note


def test_arkansas_ag_due_when_residents_are_told_if_sooner(obligations: Assess) -> None:
    found = obligations(
        affected={"US-AR": 1001}, categories=["payment"], determined_at=START,
        notified_at={"us-ar-individuals/notice": "2026-03-20T09:00:00-05:00"},
    )  # fmt: skip
    ob = found["us-ar-authority/report/US-AR"]
    assert ob.due == at("2026-03-20T09:00:00-05:00")
    assert "whichever is sooner" in ob.clock_note


def test_a_notice_after_the_fixed_term_leaves_the_term(obligations: Assess) -> None:
    found = obligations(
        affected={"US-AR": 1001}, categories=["payment"], determined_at=START,
        notified_at={"us-ar-individuals/notice": "2026-05-20T09:00:00-05:00"},
    )  # fmt: skip
    assert found["us-ar-authority/report/US-AR"].due == at("2026-04-16T06:00:00-05:00")


def test_vermont_preliminary_notice_moves_to_the_consumer_notice(obligations: Assess) -> None:
    # 9 V.S.A. § 2435(b)(3)(A): 14 business days, or when consumers are notified if sooner.
    found = obligations(
        affected={"US-VT": 1}, categories=["payment"], discovered_at=START,
        notified_at={"us-vt-individuals/notice": "2026-03-05T10:00:00-05:00"},
    )  # fmt: skip
    assert found["us-vt-authority/preliminary/US-VT"].due == at("2026-03-05T10:00:00-05:00")


def test_an_unknown_sooner_notice_is_refused_naming_entry_and_field(tmp_path: Path) -> None:
    text = default_rules_path().read_text(encoding="utf-8")
    old = 'or_when_sent = "sent:us-vt-individuals/notice"'
    path = tmp_path / "obligations.toml"
    path.write_text(text.replace(old, 'or_when_sent = "sent:us-vt-nobody/notice"'), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert (caught.value.entry, caught.value.field) == (
        "us-vt-authority",
        "stages[0].or_when_sent",
    )
