"""Which report each filed obligation gets, and what a credit-bureau report must say."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import Incident
from incident.obligations import Obligation, assess, load_rules, parse_facts
from incident.service.report_notices import NoticesTold
from incident.service.reports import ReportFacts, build_report, report_kind, required_items

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def records(**facts: Any) -> dict[str, ObligationRecord]:
    rules = load_rules()
    base = {"aware_at": "2026-03-06T16:00:00+00:00", "severity": "high", "flags": {}}
    found = assess(parse_facts({**base, **facts}, rules.flags), rules)
    return {ob.key: record(ob) for ob in found}


def record(ob: Obligation) -> ObligationRecord:
    return ObligationRecord(
        incident_id="I1", key=ob.key, rule_id=ob.rule_id, regime=ob.regime,
        recipient=ob.recipient, recipient_name=ob.recipient_name, stage=ob.stage,
        jurisdiction=ob.jurisdiction, persons=ob.persons, reason=ob.reason,
        citation=ob.citation, deadline=ob.deadline, clock_note=ob.clock_note,
        time_zone=ob.time_zone, clock_start_kind=ob.clock_start_kind,
        clock_start=ob.clock_start, due=ob.due, target=ob.target,
        content_items=list(ob.content_items), law_enforcement_delay=ob.law_enforcement_delay,
        facts_hash="x", computed_at=NOW,
    )  # fmt: skip


def incident() -> Incident:
    return Incident(
        id="I1", title="Card data read", severity="high", status="enriched",
        description={"en": "An attacker read the payments table."}, impact={"en": "Fraud."},
        measures_taken={"en": "Keys rotated."}, measures_planned={"en": ""},
        advice={"en": "Watch your statements."}, remedies={"en": "Card replacement."},
        categories=["payment"], contact={"email": "privacy@example.org"}, aware_at=NOW,
    )  # fmt: skip


@pytest.fixture(scope="module")
def new_york() -> dict[str, ObligationRecord]:
    return records(
        categories=["payment"],
        affected={"US-NY": 6000},
        flags={"dfs_regulated": True},
    )


def test_the_dfs_portal_filings_are_not_attorney_general_notices(
    new_york: dict[str, ObligationRecord],
) -> None:
    """23 NYCRR 500.17 goes through the DFS portal; the 899-aa notice to DFS is a state notice."""
    assert report_kind(new_york["us-ny-dfs/report/US-NY"]) == "generic"
    assert report_kind(new_york["us-ny-dfs-breach/report/US-NY"]) == "us_state_ag"
    assert report_kind(new_york["us-ny-authority/report/US-NY"]) == "us_state_ag"


def test_a_credit_bureau_obligation_gets_a_credit_bureau_report_with_the_resident_count(
    new_york: dict[str, ObligationRecord],
) -> None:
    ob = new_york["us-ny-credit-bureaus/notice/US-NY"]
    assert report_kind(ob) == "credit_bureau"
    assert set(required_items(ob)) == {
        "timing_of_notices", "content_of_notices", "distribution_of_notices",
        "approximate_number_affected",
    }  # fmt: skip


def test_texas_lists_no_count_yet_its_credit_bureau_report_states_one() -> None:
    ob = records(categories=["payment"], affected={"US-TX": 10_001})[
        "us-tx-credit-bureaus/notice/US-TX"
    ]
    assert "approximate_number_affected" not in ob.content_items
    assert "approximate_number_affected" in required_items(ob)


def test_a_credit_bureau_report_waits_for_the_notices_it_describes(
    new_york: dict[str, ObligationRecord],
) -> None:
    ob = new_york["us-ny-credit-bureaus/notice/US-NY"]
    agencies = ({"id": "equifax", "name": "Equifax"},)
    before = ReportFacts(persons=6000, jurisdictions=("US-NY",), now=NOW, addressees=agencies)
    report = build_report(incident(), ob, before, phase="initial", version=1, supersedes=None)
    assert report.missing == ("timing_of_notices", "distribution_of_notices")
    told = NoticesTold(first=NOW, last=NOW, by_channel={"email": 5990, "letter": 10})
    after = ReportFacts(
        persons=6000, jurisdictions=("US-NY",), now=NOW, addressees=agencies, told=told
    )
    report = build_report(incident(), ob, after, phase="initial", version=1, supersedes=None)
    assert report.complete and report.schema_errors == ()
    assert report.document["addressees"] == list(agencies)
    assert report.document["items"]["distribution_of_notices"]["persons_told_by_channel"] == {
        "email": 5990, "letter": 10,
    }  # fmt: skip


def test_a_credit_bureau_report_without_addressees_does_not_match_its_schema(
    new_york: dict[str, ObligationRecord],
) -> None:
    ob = new_york["us-ny-credit-bureaus/notice/US-NY"]
    told = NoticesTold(first=NOW, last=NOW, by_channel={"email": 6000})
    facts = ReportFacts(persons=6000, jurisdictions=("US-NY",), now=NOW, told=told)
    report = build_report(incident(), ob, facts, phase="initial", version=1, supersedes=None)
    assert report.schema_errors and "addressees" in report.schema_errors[0]
