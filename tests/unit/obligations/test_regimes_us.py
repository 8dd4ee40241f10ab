"""US regimes: HIPAA, seven states and SEC 8-K, each triggered and not, due to the hour."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.unit.obligations.conftest import Assess, keys_of, regimes

HIPAA = {"hipaa_covered": True}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ── HIPAA ──
def test_hipaa_individuals_within_60_calendar_days_of_discovery(obligations: Assess) -> None:
    found = obligations(
        affected={"US-NY": 20},
        categories=["health"],
        flags=HIPAA,
        discovered_at="2026-02-10T09:00:00-05:00",
    )
    assert found["hipaa-individuals/notice/US"].due == at("2026-04-11T09:00:00-04:00")


def test_hipaa_500_or_more_goes_to_hhs_with_the_individual_notice(obligations: Assess) -> None:
    found = obligations(
        affected={"US-NY": 250, "US-NJ": 250},
        categories=["health"],
        flags=HIPAA,
        discovered_at="2026-02-10T09:00:00-05:00",
    )
    assert found["hipaa-hhs-500/report/US"].due == found["hipaa-individuals/notice/US"].due
    assert not keys_of(found, "hipaa-hhs-log")


def test_hipaa_fewer_than_500_go_in_the_annual_log_60_days_after_year_end(
    obligations: Assess,
) -> None:
    found = obligations(
        affected={"US-NY": 499},
        categories=["health"],
        flags=HIPAA,
        discovered_at="2026-02-10T09:00:00-05:00",
    )
    assert not keys_of(found, "hipaa-hhs-500")
    assert found["hipaa-hhs-log/annual_log/US"].due == at("2027-03-02T00:00:00-05:00")


def test_hipaa_media_notice_for_more_than_500_residents_of_one_state(obligations: Assess) -> None:
    found = obligations(affected={"US-CA": 501, "US-NY": 500}, categories=["health"], flags=HIPAA)
    assert keys_of(found, "hipaa-media") == {"hipaa-media/notice/US-CA"}


def test_hipaa_does_not_apply_without_a_covered_entity_or_to_encrypted_phi(
    obligations: Assess,
) -> None:
    assert "hipaa" not in regimes(obligations(affected={"US-NY": 600}, categories=["health"]))
    flags = {**HIPAA, "encrypted": True}
    found = obligations(affected={"US-NY": 600}, categories=["health"], flags=flags)
    assert "hipaa" not in regimes(found)


def test_hipaa_unreachable_fewer_than_10_get_other_written_notice(obligations: Assess) -> None:
    found = obligations(
        affected={"US-NY": 50}, unreachable={"US-NY": 9}, categories=["health"], flags=HIPAA
    )
    sub = found["hipaa-individuals/notice/US"].substitute
    assert sub is not None and "alternative written notice" in sub.means


def test_hipaa_unreachable_10_or_more_need_web_posting_and_toll_free_number(
    obligations: Assess,
) -> None:
    found = obligations(
        affected={"US-NY": 50}, unreachable={"US-NY": 10}, categories=["health"], flags=HIPAA
    )
    sub = found["hipaa-individuals/notice/US"].substitute
    assert sub is not None and any("toll-free" in m for m in sub.means)


# ── California ──
def test_california_residents_within_30_days_and_the_ag_15_days_after(
    obligations: Assess,
) -> None:
    found = obligations(
        affected={"US-CA": 501},
        categories=["credentials"],
        discovered_at="2026-03-01T09:00:00-08:00",
    )
    assert found["us-ca-individuals/notice/US-CA"].due == at("2026-03-31T09:00:00-07:00")
    sample = found["us-ca-authority/sample_copy/US-CA"]
    assert sample.due is None, "15 days run from the residents' notice, not from its deadline"
    assert sample.target == at("2026-04-15T09:00:00-07:00")


def test_the_california_ag_sample_copy_is_due_15_days_after_residents_are_notified(
    obligations: Assess,
) -> None:
    # Civ. Code 1798.82(f): a sample copy within 15 calendar days of notifying residents: a
    # notice sent early brings the sample copy forward.
    found = obligations(
        affected={"US-CA": 501}, categories=["credentials"],
        discovered_at="2026-03-01T09:00:00-08:00",
        notified_at={"us-ca-individuals/notice": "2026-03-05T14:00:00-08:00"},
    )  # fmt: skip
    assert found["us-ca-authority/sample_copy/US-CA"].due == at("2026-03-20T14:00:00-07:00")


def test_notices_due_with_the_residents_notice_are_due_when_it_is_actually_sent(
    obligations: Assess,
) -> None:
    # 899-aa(8)(a), 815 ILCS 530/10(e)(1), 45 CFR 164.408(b): at the time residents are told.
    sent = "2026-03-09T10:00:00-05:00"
    found = obligations(
        affected={"US-NY": 600, "US-IL": 501}, categories=["payment", "health"],
        flags=HIPAA,
        notified_at={"us-ny-individuals/notice": sent, "us-il-individuals/notice": sent,
                     "hipaa-individuals/notice": sent},
    )  # fmt: skip
    for key in ("us-ny-authority/report/US-NY", "us-il-authority/report/US-IL",
                "hipaa-hhs-500/report/US"):  # fmt: skip
        assert found[key].due == at(sent), key


def test_california_ag_only_for_more_than_500_residents(obligations: Assess) -> None:
    found = obligations(affected={"US-CA": 500}, categories=["credentials"])
    assert keys_of(found, "us-ca-individuals") and not keys_of(found, "us-ca-authority")


def test_california_contact_data_alone_is_not_personal_information(obligations: Assess) -> None:
    assert "us-ca" not in regimes(obligations(affected={"US-CA": 900}, categories=["contact"]))


def test_california_notice_must_offer_id_theft_service_when_ids_leak(obligations: Assess) -> None:
    found = obligations(affected={"US-CA": 3}, categories=["identity_document"])
    items = found["us-ca-individuals/notice/US-CA"].content_items
    assert "identity_theft_service_12_months" in items
    assert "title_notice_of_data_breach" in items


# ── New York ──
def test_new_york_within_30_days_with_the_ag_dos_police_and_dfs(obligations: Assess) -> None:
    found = obligations(affected={"US-NY": 5000}, categories=["payment"])
    notice = found["us-ny-individuals/notice/US-NY"]
    assert notice.due == at("2026-04-05T10:00:00-04:00"), "wall clock kept across DST"
    assert found["us-ny-authority/report/US-NY"].due == notice.due
    assert not keys_of(found, "us-ny-credit-bureaus")
    assert keys_of(
        obligations(affected={"US-NY": 5001}, categories=["payment"]), "us-ny-credit-bureaus"
    )


def test_new_york_dfs_72_hours_of_determination_are_real_hours_across_us_dst(
    obligations: Assess,
) -> None:
    found = obligations(
        affected={"US-NY": 1},
        flags={"dfs_regulated": True},
        determined_at="2026-03-06T12:00:00-05:00",
    )
    assert found["us-ny-dfs/report/US-NY"].due == at("2026-03-09T13:00:00-04:00")


@pytest.mark.parametrize("affected", [{"NL": 3}, {"US-CA": 2}, {}])
def test_dfs_72_hours_for_any_cybersecurity_incident_at_a_covered_entity_wherever_people_live(
    obligations: Assess, affected: dict[str, int]
) -> None:
    # 23 NYCRR 500.17(a)(1): the duty follows the covered entity, not New York residents.
    found = obligations(
        affected=affected, flags={"dfs_regulated": True}, determined_at="2026-03-06T12:00:00-05:00"
    )
    assert found["us-ny-dfs/report/US-NY"].due == at("2026-03-09T13:00:00-04:00")


def test_dfs_extortion_payment_24_hours_notice_and_30_days_written_explanation(
    obligations: Assess,
) -> None:
    # 23 NYCRR 500.17(c): notice within 24 hours of the payment; reasons within 30 days.
    flags = {"dfs_regulated": True, "extortion_payment": True}
    found = obligations(flags=flags, extortion_paid_at="2026-03-10T15:00:00-04:00")
    assert found["us-ny-dfs-extortion/payment_notice/US-NY"].due == at("2026-03-11T15:00:00-04:00")
    explanation = found["us-ny-dfs-extortion/explanation/US-NY"]
    assert explanation.due == at("2026-04-09T15:00:00-04:00")
    assert "reasons_payment_was_necessary" in explanation.content_items


def test_no_extortion_payment_means_no_dfs_payment_notice(obligations: Assess) -> None:
    found = obligations(flags={"dfs_regulated": True})
    assert not keys_of(found, "us-ny-dfs-extortion")


# ── Texas ──
def test_texas_individuals_60_days_and_the_ag_30_days_after_determination(
    obligations: Assess,
) -> None:
    found = obligations(
        affected={"US-TX": 250},
        categories=["identity_document"],
        determined_at="2026-03-06T09:00:00-06:00",
    )
    assert found["us-tx-individuals/notice/US-TX"].due == at("2026-05-05T09:00:00-05:00")
    assert found["us-tx-authority/report/US-TX"].due == at("2026-04-05T09:00:00-05:00")


def test_texas_ag_threshold_is_250_residents(obligations: Assess) -> None:
    found = obligations(affected={"US-TX": 249}, categories=["identity_document"])
    assert not keys_of(found, "us-tx-authority")


def test_texas_credit_bureaus_count_every_person_notified(obligations: Assess) -> None:
    few = obligations(affected={"US-TX": 10, "US-NY": 9990}, categories=["payment"])
    many = obligations(affected={"US-TX": 10, "US-NY": 9991}, categories=["payment"])
    assert not keys_of(few, "us-tx-credit-bureaus")
    assert keys_of(many, "us-tx-credit-bureaus")


# ── Florida ──
def test_florida_individuals_and_department_within_30_days(obligations: Assess) -> None:
    found = obligations(
        affected={"US-FL": 500},
        categories=["credentials"],
        determined_at="2026-03-06T09:00:00-05:00",
    )
    assert found["us-fl-individuals/notice/US-FL"].due == at("2026-04-05T09:00:00-04:00")
    assert found["us-fl-authority/report/US-FL"].due == at("2026-04-05T09:00:00-04:00")
    assert not keys_of(
        obligations(affected={"US-FL": 499}, categories=["credentials"]), "us-fl-authority"
    )


def test_florida_credit_bureaus_for_more_than_1000(obligations: Assess) -> None:
    assert not keys_of(
        obligations(affected={"US-FL": 1000}, categories=["payment"]), "us-fl-credit-bureaus"
    )
    assert keys_of(
        obligations(affected={"US-FL": 1001}, categories=["payment"]), "us-fl-credit-bureaus"
    )


# ── Massachusetts ──
def test_massachusetts_notice_must_not_state_the_nature_or_number(obligations: Assess) -> None:
    found = obligations(affected={"US-MA": 3}, categories=["identity_document"])
    ob = found["us-ma-individuals/notice/US-MA"]
    assert {"nature_of_breach", "number_of_residents_affected"} <= set(ob.forbidden_items)
    assert "credit_monitoring_18_months_free" in ob.content_items
    assert ob.due is None and ob.target is not None
    assert keys_of(found, "us-ma-authority")


def test_massachusetts_does_not_cover_credentials_alone(obligations: Assess) -> None:
    assert "us-ma" not in regimes(obligations(affected={"US-MA": 3}, categories=["credentials"]))


# ── Washington ──
def test_washington_ag_for_more_than_500_within_30_days_of_discovery(obligations: Assess) -> None:
    found = obligations(
        affected={"US-WA": 501}, categories=["health"], discovered_at="2026-03-06T09:00:00-08:00"
    )
    assert found["us-wa-authority/report/US-WA"].due == at("2026-04-05T09:00:00-07:00")
    assert not keys_of(
        obligations(affected={"US-WA": 500}, categories=["health"]), "us-wa-authority"
    )


# ── Illinois ──
def test_illinois_notice_must_not_state_the_number_of_residents(obligations: Assess) -> None:
    found = obligations(affected={"US-IL": 501}, categories=["payment"])
    ob = found["us-il-individuals/notice/US-IL"]
    assert "number_of_illinois_residents_affected" in ob.forbidden_items
    ag = found["us-il-authority/report/US-IL"]
    assert ag.due is None and ag.target == ob.target, "no later than the consumer notice"
    assert not keys_of(
        obligations(affected={"US-IL": 500}, categories=["payment"]), "us-il-authority"
    )


# ── SEC 8-K ──
SEC = {"flags": {"public_company": True}, "material_at": "2026-11-25T10:00:00-05:00"}


def test_an_8k_due_on_a_business_day_is_due_at_1730_eastern(obligations: Assess) -> None:
    # 17 CFR 232.13(a)(2): an EDGAR filing after 5:30 pm ET counts as filed the next business day.
    found = obligations(**SEC)
    assert found["sec-8k/form_8k/US"].due == at("2026-12-02T17:30:00-05:00")


def test_sec_8k_four_business_days_after_materiality_skipping_thanksgiving(
    obligations: Assess,
) -> None:
    ob = obligations(**SEC)["sec-8k/form_8k/US"]
    assert ob.due is not None and ob.due.date().isoformat() == "2026-12-02"


def test_sec_8k_clock_waits_for_the_materiality_determination(obligations: Assess) -> None:
    ob = obligations(flags={"public_company": True})["sec-8k/form_8k/US"]
    assert ob.due is None and ob.clock_start is None
    assert "sec-8k" not in regimes(obligations(material_at="2026-11-25T10:00:00-05:00"))


def test_an_ordinary_police_request_does_not_delay_an_8k(obligations: Assess) -> None:
    police = {"start": "2026-11-26T00:00:00-05:00", "end": "2026-12-06T00:00:00-05:00"}
    ob = obligations(**SEC, law_enforcement_delay=police)["sec-8k/form_8k/US"]
    assert ob.due == at("2026-12-02T17:30:00-05:00")


def test_an_attorney_general_finding_postpones_the_8k_to_the_end_of_the_period_it_specifies(
    obligations: Assess,
) -> None:
    # Item 1.05(c): delay "for a time period specified by the Attorney General, up to 30 days,
    # following the date when the disclosure ... was otherwise required": not a pause.
    finding = {"start": "2026-11-30T09:00:00-05:00", "end": "2026-12-21T17:30:00-05:00",
               "national_security": True}  # fmt: skip
    ob = obligations(**SEC, law_enforcement_delay=finding)["sec-8k/form_8k/US"]
    assert ob.due == at("2026-12-21T17:30:00-05:00")
    assert "postponed" in ob.clock_note and "paused" not in ob.clock_note


def test_an_attorney_general_finding_made_on_the_due_time_takes_effect(
    obligations: Assess,
) -> None:
    finding = {"start": "2026-12-02T17:30:00-05:00", "end": "2027-01-04T17:30:00-05:00",
               "national_security": True}  # fmt: skip
    ob = obligations(**SEC, law_enforcement_delay=finding)["sec-8k/form_8k/US"]
    assert ob.due == at("2027-01-04T17:30:00-05:00")


def test_an_attorney_general_finding_after_the_due_time_changes_nothing(
    obligations: Assess,
) -> None:
    finding = {"start": "2026-12-02T17:31:00-05:00", "end": "2027-01-04T17:30:00-05:00",
               "national_security": True}  # fmt: skip
    ob = obligations(**SEC, law_enforcement_delay=finding)["sec-8k/form_8k/US"]
    assert ob.due == at("2026-12-02T17:30:00-05:00")


def test_no_attorney_general_postponement_reaches_beyond_120_days(obligations: Assess) -> None:
    # 30 days, a further 30, then up to 60 more for national security only.
    finding = {"start": "2026-12-01T09:00:00-05:00", "end": "2027-12-01T17:30:00-05:00",
               "national_security": True}  # fmt: skip
    ob = obligations(**SEC, law_enforcement_delay=finding)["sec-8k/form_8k/US"]
    assert ob.due == at("2027-04-01T17:30:00-04:00")  # 120 days later, 17:30 ET
    assert "120 days" in ob.clock_note
