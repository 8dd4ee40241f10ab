"""A facts file: every problem named with field, value and rule, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from incident.errors import InvalidInputs
from incident.obligations import Rules, load_facts_file, parse_facts
from tests.unit.obligations.conftest import BASE_FACTS


def problems(rules: Rules, **overrides: Any) -> dict[str, tuple[Any, str]]:
    with pytest.raises(InvalidInputs) as caught:
        parse_facts({**BASE_FACTS, **overrides}, rules.flags)
    return {e.field: (e.value, e.rule) for e in caught.value.errors}


def test_an_unknown_category_is_named(rules: Rules) -> None:
    value, rule = problems(rules, categories=["contact", "dna"])["categories"]
    assert value == "dna" and "unknown data category" in rule


def test_an_unknown_jurisdiction_is_named(rules: Rules) -> None:
    value, rule = problems(rules, affected={"US-XX": 3})["affected.US-XX"]
    assert value == "US-XX" and "ISO 3166" in rule


def test_a_lower_case_jurisdiction_is_refused(rules: Rules) -> None:
    assert "affected.nl" in problems(rules, affected={"nl": 3})


def test_norway_read_as_false_by_yaml_gets_a_hint(rules: Rules) -> None:
    _, rule = problems(rules, affected={False: 3})["affected.False"]
    assert "quote NO" in rule


def test_a_time_without_offset_is_refused(rules: Rules) -> None:
    value, rule = problems(rules, aware_at="2026-03-06T16:00:00")["aware_at"]
    assert value == "2026-03-06T16:00:00" and "UTC offset" in rule


def test_a_negative_count_is_refused(rules: Rules) -> None:
    value, rule = problems(rules, affected={"NL": -1})["affected.NL"]
    assert value == -1 and "0 or more" in rule


def test_more_unreachable_than_affected_is_refused(rules: Rules) -> None:
    assert "unreachable.NL" in problems(rules, affected={"NL": 1}, unreachable={"NL": 2})


def test_an_unknown_flag_is_refused(rules: Rules) -> None:
    assert "flags.hipaa" in problems(rules, flags={"hipaa": True})


def test_an_unknown_field_is_refused(rules: Rules) -> None:
    assert "awareat" in problems(rules, awareat="2026-03-06T16:00:00+01:00")


def test_every_problem_is_reported_at_once(rules: Rules) -> None:
    found = problems(rules, severity="huge", categories=["x"], affected={"NL": -2})
    assert {"severity", "categories", "affected.NL"} <= set(found)


def test_a_yaml_facts_file_is_read_with_aware_times(rules: Rules, tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text(
        "aware_at: 2026-03-06T16:00:00+01:00\ncategories: [contact, credentials]\n"
        "severity: high\naffected: {NL: 1200, US-CA: 600, CN: 40000}\n"
        "unreachable: {US-CA: 12}\nflags: {encrypted: false, nis2_entity: false}\n",
        encoding="utf-8",
    )
    facts = load_facts_file(path, rules.flags)
    assert facts.total_affected == 41_800
    assert facts.aware_at.utcoffset() is not None


def test_a_yaml_time_without_offset_is_refused(rules: Rules, tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("aware_at: 2026-03-06T16:00:00\nseverity: low\n", encoding="utf-8")
    with pytest.raises(InvalidInputs, match="aware_at"):
        load_facts_file(path, rules.flags)


def test_a_notice_sent_time_names_its_rule_stage_and_needs_an_offset(rules: Rules) -> None:
    found = problems(
        rules,
        notified_at={"us-ca-individuals/notice": "2026-03-05", "US-CA notice": "2026-03-05"},
    )
    assert "needs a time and a UTC offset" in found["notified_at.us-ca-individuals/notice"][1]
    assert "<rule id>/<stage>" in found["notified_at.US-CA notice"][1]
