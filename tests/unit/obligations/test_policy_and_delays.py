"""The organisation's own promise applies everywhere; law-enforcement delays only where allowed."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.unit.obligations.conftest import Assess, keys_of, regimes


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


PROMISED_CONTENT = {
    "basic_facts_of_incident",
    "possible_impact",
    "measures_taken_or_to_be_taken",
    "advice_to_prevent_and_reduce_risk",
    "remedies_offered",
}


@pytest.mark.parametrize("place", ["NL", "US-CA", "CN", "HK", "JP", "BR", "ZA", "IN", "AR", "CH"])
def test_the_policy_promise_applies_in_every_jurisdiction(obligations: Assess, place: str) -> None:
    found = obligations(affected={place: 1}, severity="low", flags={"encrypted": True})
    country = place.split("-")[0]
    notice = found[f"policy-individuals/notice/{country}"]
    assert notice.target == at("2026-03-09T15:00:00+00:00")
    assert set(notice.content_items) >= PROMISED_CONTENT
    assert keys_of(found, "policy-authority") == {f"policy-authority/report/{country}"}
    assert keys_of(found, "policy-questions")


def test_the_policy_promises_a_public_announcement_where_one_by_one_notice_is_hard(
    obligations: Assess,
) -> None:
    assert not keys_of(obligations(affected={"ZA": 5}), "policy-public")
    found = obligations(affected={"ZA": 5}, unreachable={"ZA": 1})
    assert keys_of(found, "policy-public") == {"policy-public/announcement/-"}
    sub = found["policy-individuals/notice/ZA"].substitute
    assert sub is not None and sub.decision == "complement"


def test_questions_are_answered_within_7_working_days_of_each_question(obligations: Assess) -> None:
    ob = obligations(affected={"NL": 1})["policy-questions/answer/-"]
    assert ob.due is None and "7 working days" in ob.deadline


def test_no_affected_person_means_no_policy_notice(obligations: Assess) -> None:
    assert "policy" not in regimes(obligations(affected={}))


DELAY = {"start": "2026-03-07T00:00:00-08:00", "end": "2026-03-17T00:00:00-07:00"}


def test_a_law_enforcement_delay_pauses_a_us_state_clock(obligations: Assess) -> None:
    base = {"affected": {"US-CA": 3, "NL": 3}, "categories": ["payment"],
            "discovered_at": "2026-03-01T09:00:00-08:00"}  # fmt: skip
    plain = obligations(**base)["us-ca-individuals/notice/US-CA"]
    held = obligations(**base, law_enforcement_delay=DELAY)["us-ca-individuals/notice/US-CA"]
    assert plain.due == at("2026-03-31T09:00:00-07:00")
    assert held.due is not None and plain.due is not None
    assert held.due - plain.due == at(DELAY["end"]) - at(DELAY["start"])
    assert "paused" in held.clock_note


def test_a_law_enforcement_delay_does_not_extend_the_gdpr_72_hours(obligations: Assess) -> None:
    found = obligations(affected={"NL": 3}, law_enforcement_delay=DELAY)
    ob = found["gdpr-authority/notification/NL"]
    assert ob.due == at("2026-03-09T16:00:00+01:00")
    assert "does not extend" in ob.clock_note


def test_an_open_law_enforcement_delay_leaves_the_state_deadline_open(obligations: Assess) -> None:
    found = obligations(
        affected={"US-WA": 3},
        categories=["payment"],
        law_enforcement_delay={"start": DELAY["start"]},
    )
    ob = found["us-wa-individuals/notice/US-WA"]
    assert ob.due is None and "paused" in ob.clock_note


def test_obligations_are_listed_soonest_first(obligations: Assess) -> None:
    found = list(
        obligations(affected={"NL": 3, "KR": 2, "US-CA": 2}, categories=["payment"]).values()
    )
    whens = [ob.when for ob in found if ob.when is not None]
    assert whens == sorted(whens)
    assert all(ob.when is None for ob in found[len(whens) :])
