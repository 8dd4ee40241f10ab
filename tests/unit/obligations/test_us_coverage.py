"""Every US state, DC, Puerto Rico, Guam and the US Virgin Islands: residents, regulators and
credit bureaus, each at its threshold, its clock and its exemptions."""

from __future__ import annotations

from datetime import datetime

import pytest

from incident.obligations import Rules
from incident.obligations.engine import matches
from incident.obligations.rules import US_JURISDICTIONS
from tests.unit.obligations.conftest import Assess, keys_of

START = "2026-03-02T12:00:00+00:00"  # 2 March in every US time zone
ID_DOC = ["identity_document"]
GEORGIA = {"information_broker": True}  # Georgia's law binds information brokers only
# (state, fewest persons that bring in the nationwide consumer reporting agencies)
CRA_THRESHOLD = {
    "NY": 5001, "TX": 10001, "FL": 1001, "CO": 1001, "ME": 1001, "AL": 1001, "AZ": 1001,
    "IN": 1001, "MD": 1000, "NM": 1001, "OH": 1001, "OR": 1001, "RI": 501, "TN": 1001,
    "VT": 1001, "WI": 1001, "AK": 1001, "DC": 1001, "GA": 10001, "HI": 1001, "KS": 1001,
    "KY": 1001, "MI": 1001, "MN": 501, "MO": 1001, "NV": 1001, "NH": 1001, "NJ": 1001,
    "NC": 1001, "PA": 1001, "SC": 1001, "UT": 1000, "VA": 1001, "WV": 1001, "MT": 1,
}  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def flags_for(state: str) -> dict[str, bool]:
    return GEORGIA if state == "GA" else {}


@pytest.mark.parametrize("code", US_JURISDICTIONS)
def test_every_us_jurisdiction_has_a_cited_resident_rule(rules: Rules, code: str) -> None:
    mine = [r for r in rules.rules if r.regime == f"us-{code.lower()}"]
    residents = [r for r in mine if r.recipient == "individuals"]
    assert residents, f"no resident rule for US-{code}"
    assert all(matches(f"US-{code}", r.applies_when.jurisdictions, rules) for r in residents)
    assert all(r.citation.url.startswith("http") and len(r.citation.article) > 5 for r in mine)
    assert f"US-{code}" in rules.zones


@pytest.mark.parametrize("code", US_JURISDICTIONS)
def test_every_us_jurisdiction_gives_its_residents_a_notice_obligation(
    obligations: Assess, code: str
) -> None:
    found = obligations(affected={f"US-{code}": 1}, categories=ID_DOC, flags=flags_for(code))
    ob = found[f"us-{code.lower()}-individuals/notice/US-{code}"]
    assert ob.when is not None and ob.time_zone != "UTC"
    assert ob.law_enforcement_delay in ("allowed", "not_allowed")


@pytest.mark.parametrize("code", ["PR", "GU", "VI"])
def test_a_territory_filed_under_its_own_country_code_is_covered(
    obligations: Assess, code: str
) -> None:
    found = obligations(affected={code: 1}, categories=ID_DOC)
    assert keys_of(found, f"us-{code.lower()}-individuals")


def test_rules_written_from_memory_carry_a_verify_mark_for_a_lawyer(rules: Rules) -> None:
    for code in ("AK", "GA", "IA", "UT", "PR", "OK"):
        assert all(r.verify for r in rules.rules if r.regime == f"us-{code.lower()}")
    assert not rules.by_id("us-ca-individuals").verify  # checked against the text


@pytest.mark.parametrize(("state", "threshold"), sorted(CRA_THRESHOLD.items()))
def test_every_credit_bureau_duty_is_its_own_obligation_from_its_threshold(
    obligations: Assess, state: str, threshold: int
) -> None:
    def bureaus(n: int) -> list[str]:
        found = obligations(affected={f"US-{state}": n}, categories=ID_DOC, flags=flags_for(state))
        keys = keys_of(found, f"us-{state.lower()}-credit-bureaus")
        assert all(found[k].recipient == "credit_bureaus" for k in keys)
        assert all("timing_of_notices" in found[k].content_items or state in ("NY",) for k in keys)
        return sorted(keys)

    assert bureaus(threshold)
    if threshold > 1:
        assert not bureaus(threshold - 1)


@pytest.mark.parametrize(
    ("state", "rule", "first"),
    [("DC", "us-dc-authority", 50), ("IA", "us-ia-authority", 501), ("ND", "us-nd-authority", 251),
     ("UT", "us-ut-authority", 500), ("UT", "us-ut-cyber-center", 500),
     ("AR", "us-ar-authority", 1001), ("PA", "us-pa-authority", 501),
     ("SC", "us-sc-authority", 1001), ("HI", "us-hi-authority", 1001),
     ("MO", "us-mo-authority", 1001)],
)  # fmt: skip
def test_regulator_thresholds_in_the_statutes_words(
    obligations: Assess, state: str, rule: str, first: int
) -> None:
    def told(n: int) -> set[str]:
        return keys_of(obligations(affected={f"US-{state}": n}, categories=ID_DOC), rule)

    assert told(first) and not told(first - 1)


def test_iowa_ag_within_5_business_days_of_the_consumer_notice(obligations: Assess) -> None:
    # Iowa Code 715C.2(8); 3 July 2026 is Independence Day observed (4 July is a Saturday).
    found = obligations(
        affected={"US-IA": 501}, categories=ID_DOC,
        notified_at={"us-ia-individuals/notice": "2026-07-02T10:00:00-05:00"},
    )  # fmt: skip
    assert found["us-ia-authority/report/US-IA"].due == at("2026-07-10T23:59:59-05:00")


def test_iowa_ag_before_the_consumer_notice_is_only_projected(obligations: Assess) -> None:
    ob = obligations(affected={"US-IA": 501}, categories=ID_DOC)["us-ia-authority/report/US-IA"]
    assert ob.due is None and ob.target is not None
    assert "not yet recorded" in ob.clock_note


def test_minnesota_credit_bureaus_within_48_hours(obligations: Assess) -> None:
    found = obligations(affected={"US-MN": 501}, categories=ID_DOC, discovered_at=START)
    assert found["us-mn-credit-bureaus/notice/US-MN"].due == at("2026-03-04T12:00:00+00:00")


def test_puerto_rico_department_of_consumer_affairs_within_10_days(obligations: Assess) -> None:
    found = obligations(affected={"PR": 3}, categories=ID_DOC, discovered_at=START)
    assert found["us-pr-authority/report/US-PR"].due == at("2026-03-12T08:00:00-04:00")


def test_most_expedient_time_is_a_target_without_a_legal_due(obligations: Assess) -> None:
    for state in ("KY", "NV", "VA", "GU", "VI"):
        found = obligations(affected={f"US-{state}": 1}, categories=ID_DOC, discovered_at=START)
        ob = found[f"us-{state.lower()}-individuals/notice/US-{state}"]
        assert ob.due is None and ob.target == at("2026-03-05T12:00:00+00:00")


@pytest.mark.parametrize("state", ["MI", "IA", "MO", "NJ", "AR", "MS"])
def test_a_documented_no_harm_determination_exempts_the_resident_notice(
    obligations: Assess, state: str
) -> None:
    rule = f"us-{state.lower()}-individuals"
    assert keys_of(obligations(affected={f"US-{state}": 2000}, categories=ID_DOC), rule)
    exempt = obligations(
        affected={f"US-{state}": 2000}, categories=ID_DOC, flags={"harm_unlikely": True}
    )
    assert not keys_of(exempt, rule)
    assert not keys_of(exempt, f"us-{state.lower()}-credit-bureaus")


def test_alaska_tells_its_attorney_general_of_a_no_harm_determination(obligations: Assess) -> None:
    told = obligations(affected={"US-AK": 5}, categories=ID_DOC, flags={"harm_unlikely": True})
    assert keys_of(told, "us-ak-authority") and not keys_of(told, "us-ak-individuals")
    assert not keys_of(obligations(affected={"US-AK": 5}, categories=ID_DOC), "us-ak-authority")


@pytest.mark.parametrize("state", ["KS", "NC", "WY", "DC", "PR"])
def test_encrypted_data_need_no_notice(obligations: Assess, state: str) -> None:
    found = obligations(
        affected={f"US-{state}": 5000}, categories=ID_DOC, flags={"encrypted": True}
    )
    assert not [k for k in found if k.startswith(f"us-{state.lower()}-")]


def test_georgia_binds_information_brokers_only(obligations: Assess) -> None:
    assert not keys_of(obligations(affected={"US-GA": 5}, categories=ID_DOC), "us-ga-individuals")
    assert keys_of(
        obligations(affected={"US-GA": 5}, categories=ID_DOC, flags=GEORGIA), "us-ga-individuals"
    )


def test_kansas_substitute_notice_above_5000_persons(obligations: Assess) -> None:
    def decision(n: int) -> str | None:
        ob = obligations(affected={"US-KS": n}, categories=ID_DOC)["us-ks-individuals/notice/US-KS"]
        return ob.substitute.decision if ob.substitute else None

    assert decision(5000) == "individual" and decision(5001) == "replace"


def test_new_jersey_state_police_before_customers(obligations: Assess) -> None:
    found = obligations(
        affected={"US-NJ": 1}, categories=ID_DOC,
        notified_at={"us-nj-individuals/notice": "2026-03-10T10:00:00-05:00"},
    )  # fmt: skip
    assert found["us-nj-state-police/report/US-NJ"].due == at("2026-03-10T10:00:00-05:00")


def test_each_regulator_a_statute_names_is_its_own_obligation(obligations: Assess) -> None:
    ny = obligations(affected={"US-NY": 1}, categories=ID_DOC)
    told = {
        ob.rule_id for ob in ny.values() if ob.regime == "us-ny" and ob.recipient == "authority"
    }
    assert told == {"us-ny-authority", "us-ny-dos", "us-ny-state-police", "us-ny-dfs-breach"}
    ma = obligations(affected={"US-MA": 1}, categories=ID_DOC)
    assert keys_of(ma, "us-ma-authority") and keys_of(ma, "us-ma-ocabr")
    ut = obligations(affected={"US-UT": 500}, categories=ID_DOC)
    assert keys_of(ut, "us-ut-authority") and keys_of(ut, "us-ut-cyber-center")


def test_pennsylvania_offers_credit_monitoring_where_ssn_exposed(obligations: Assess) -> None:
    ob = obligations(affected={"US-PA": 1}, categories=ID_DOC)["us-pa-individuals/notice/US-PA"]
    assert "credit_monitoring_12_months_free" in ob.content_items
