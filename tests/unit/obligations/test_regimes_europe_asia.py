"""Each regime outside the US: an incident that triggers it, one that does not, due to the hour."""

from __future__ import annotations

from datetime import datetime

from tests.unit.obligations.conftest import Assess, keys_of, regimes


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ── GDPR ──
def test_gdpr_authority_is_due_72_hours_after_awareness(obligations: Assess) -> None:
    found = obligations(affected={"NL": 10})
    ob = found["gdpr-authority/notification/NL"]
    assert ob.due == at("2026-03-09T16:00:00+01:00")
    assert ob.clock_start == at("2026-03-06T16:00:00+01:00")
    assert ob.time_zone == "Europe/Amsterdam"
    assert "GDPR Art. 33" in ob.citation


def test_gdpr_authority_72_hours_cross_the_summer_time_change_as_real_hours(
    obligations: Assess,
) -> None:
    found = obligations(aware_at="2026-03-27T10:00:00+01:00", affected={"NL": 10})
    assert found["gdpr-authority/notification/NL"].due == at("2026-03-30T11:00:00+02:00")


def test_gdpr_without_an_eu_establishment_means_one_authority_per_member_state(
    obligations: Assess,
) -> None:
    found = obligations(affected={"NL": 10, "FR": 5, "DE-BY": 2})
    assert keys_of(found, "gdpr-authority") == {
        "gdpr-authority/notification/NL",
        "gdpr-authority/notification/FR",
        "gdpr-authority/notification/DE-BY",
    }
    assert found["gdpr-authority/notification/FR"].time_zone == "Europe/Paris"


def test_gdpr_with_an_eu_establishment_goes_to_the_lead_authority_only(obligations: Assess) -> None:
    found = obligations(affected={"NL": 10, "FR": 5}, establishment="IE")
    assert keys_of(found, "gdpr-authority") == {"gdpr-authority/notification/IE"}
    assert found["gdpr-authority/notification/IE"].persons == 15


def test_gdpr_covers_the_eea_but_not_switzerland(obligations: Assess) -> None:
    assert "gdpr" in regimes(obligations(affected={"NO": 3}))
    assert "gdpr" not in regimes(obligations(affected={"CH": 3}))


def test_gdpr_authority_is_not_notified_when_the_breach_is_unlikely_to_risk_anyone(
    obligations: Assess,
) -> None:
    assert not keys_of(obligations(affected={"NL": 9}, severity="low"), "gdpr-authority")
    encrypted = obligations(affected={"NL": 9}, flags={"encrypted": True})
    assert not keys_of(encrypted, "gdpr-authority")
    assert keys_of(encrypted, "gdpr-register"), "the register records every breach"


def test_gdpr_data_subjects_are_told_only_for_a_high_risk(obligations: Assess) -> None:
    assert not keys_of(obligations(affected={"NL": 9}, severity="medium"), "gdpr-individuals")
    ob = obligations(affected={"NL": 9}, severity="high")["gdpr-individuals/notice/NL"]
    assert ob.due is None, "without undue delay names no hour"
    assert ob.target == at("2026-03-09T16:00:00+01:00")


def test_gdpr_disproportionate_effort_replaces_individual_notice(obligations: Assess) -> None:
    found = obligations(
        affected={"NL": 9}, severity="high", flags={"disproportionate_effort": True}
    )
    sub = found["gdpr-individuals/notice/NL"].substitute
    assert sub is not None and sub.decision == "replace"
    assert "34(3)(c)" in sub.reason


def test_gdpr_unreachable_subjects_get_a_public_communication(obligations: Assess) -> None:
    found = obligations(affected={"NL": 9}, unreachable={"NL": 1}, severity="high")
    sub = found["gdpr-individuals/notice/NL"].substitute
    assert sub is not None and sub.decision == "complement"


# ── UK GDPR ──
def test_uk_gdpr_reports_to_the_ico_72_hours_after_awareness(obligations: Assess) -> None:
    ob = obligations(affected={"GB": 4})["uk-gdpr-authority/notification/GB"]
    assert ob.due == at("2026-03-09T15:00:00+00:00")
    assert "ICO" in ob.recipient_name


def test_uk_gdpr_does_not_apply_to_ireland(obligations: Assess) -> None:
    assert "uk-gdpr" not in regimes(obligations(affected={"IE": 4}))


# ── NIS2 ──
def test_nis2_early_warning_24h_notification_72h_final_report_a_month_later(
    obligations: Assess,
) -> None:
    found = obligations(
        severity="high", flags={"nis2_entity": True}, establishment="NL", affected={"NL": 1}
    )
    assert found["nis2-authority/early_warning/NL"].due == at("2026-03-07T16:00:00+01:00")
    assert found["nis2-authority/notification/NL"].due == at("2026-03-09T16:00:00+01:00")
    final = found["nis2-authority/final_report/NL"]
    assert final.due is None, "the month runs from the notification actually submitted"
    assert final.target == at("2026-04-09T16:00:00+02:00"), "projected from its deadline"


def test_the_nis2_final_report_is_due_a_month_after_the_incident_notification_was_sent(
    obligations: Assess,
) -> None:
    # Art. 23(4)(d): "not later than one month after the submission of the incident notification"
    found = obligations(
        severity="high", flags={"nis2_entity": True}, establishment="NL", affected={"NL": 1},
        notified_at={"nis2-authority/notification": "2026-03-07T11:00:00+01:00"},
    )  # fmt: skip
    final = found["nis2-authority/final_report/NL"]
    assert final.due == at("2026-04-07T11:00:00+02:00")
    assert final.clock_start == at("2026-03-07T11:00:00+01:00")


def test_nis2_trust_service_providers_notify_within_24_hours(obligations: Assess) -> None:
    flags = {"nis2_entity": True, "trust_service_provider": True}
    found = obligations(severity="critical", flags=flags, establishment="DE")
    assert found["nis2-authority/notification/DE"].due == at("2026-03-07T16:00:00+01:00")


def test_nis2_needs_a_significant_incident_at_an_nis2_entity(obligations: Assess) -> None:
    assert "nis2" not in regimes(obligations(severity="medium", flags={"nis2_entity": True}))
    assert "nis2" not in regimes(obligations(severity="critical", affected={"NL": 5}))


# ── China: PIPL and the CAC measures ──
def test_pipl_tells_authority_and_individuals_immediately(obligations: Assess) -> None:
    found = obligations(affected={"CN": 40_000})
    for key in ("pipl-authority/notice/CN", "pipl-individuals/notice/CN"):
        assert found[key].due is None
        assert found[key].target == at("2026-03-07T23:00:00+08:00")


def test_pipl_does_not_cover_hong_kong(obligations: Assess) -> None:
    assert "pipl" not in regimes(obligations(affected={"HK": 40_000}))


def test_cac_needs_a_million_persons(obligations: Assess) -> None:
    assert "cac" not in regimes(obligations(affected={"CN": 999_999}))
    found = obligations(affected={"CN": 1_000_000}, discovered_at="2026-03-06T10:00:00+08:00")
    ob = found["cac-authority/report/CN"]
    assert ob.due == at("2026-03-06T14:00:00+08:00")
    assert found["cac-authority/summary/CN"].due is None, "starts when handling ends"


def test_cac_critical_infrastructure_operators_report_within_one_hour(obligations: Assess) -> None:
    found = obligations(
        affected={"CN": 2_000_000},
        flags={"critical_infrastructure": True},
        discovered_at="2026-03-06T10:00:00+08:00",
        handled_at="2026-03-20T10:00:00+08:00",
    )
    assert keys_of(found, "cac-authority") == set()
    assert found["cac-authority-cii/report/CN"].due == at("2026-03-06T11:00:00+08:00")
    assert found["cac-authority-cii/summary/CN"].due == at("2026-04-19T10:00:00+08:00")


# ── Japan: APPI ──
def test_appi_more_than_1000_persons_triggers_ppc_reports(obligations: Assess) -> None:
    assert "appi" not in regimes(obligations(affected={"JP": 1000}))
    found = obligations(affected={"JP": 1001})
    assert found["appi-authority/final/JP"].due == at("2026-04-06T00:00:00+09:00")
    assert found["appi-authority/preliminary/JP"].due is None


def test_appi_final_report_takes_60_days_when_the_leak_may_be_wrongful(obligations: Assess) -> None:
    found = obligations(affected={"JP": 3}, flags={"malicious": True})
    # Day 60 is 6 May 2026, a substitute holiday: the report is due the next working day.
    assert found["appi-authority/final/JP"].due == at("2026-05-07T00:00:00+09:00")


def test_an_appi_deadline_falling_in_golden_week_rolls_to_the_next_working_day(
    obligations: Assess,
) -> None:
    # Act on Holidays of Administrative Organs Art. 2: 30 days from 3 April end on Sunday 3 May
    # (Constitution Day); 4-6 May are holidays too, so the report is due Thursday 7 May.
    found = obligations(aware_at="2026-04-03T10:00:00+09:00", affected={"JP": 1001})
    assert found["appi-authority/final/JP"].due == at("2026-05-07T10:00:00+09:00")


def test_an_appi_deadline_in_the_year_end_closure_rolls_to_4_january(obligations: Assess) -> None:
    # 29 December to 3 January are holidays of administrative organs (Art. 1(1)(iii)).
    found = obligations(aware_at="2026-11-30T10:00:00+09:00", affected={"JP": 1001})
    assert found["appi-authority/final/JP"].due == at("2027-01-04T10:00:00+09:00")


def test_appi_card_data_trigger_even_one_person_unless_highly_encrypted(
    obligations: Assess,
) -> None:
    assert "appi" in regimes(obligations(affected={"JP": 1}, categories=["payment"]))
    encrypted = obligations(affected={"JP": 1}, categories=["payment"], flags={"encrypted": True})
    assert "appi" not in regimes(encrypted)


# ── Brazil: LGPD ──
def test_lgpd_anpd_and_subjects_within_3_business_days_in_brasilia(obligations: Assess) -> None:
    found = obligations(
        aware_at="2026-04-01T15:00:00-03:00",
        affected={"BR": 10},
        categories=["credentials"],
        severity="high",
    )
    assert found["lgpd-authority/notification/BR"].due == at("2026-04-07T23:59:59-03:00")
    assert found["lgpd-individuals/notice/BR"].due == at("2026-04-07T23:59:59-03:00")
    supplement = found["lgpd-authority/supplement/BR"]
    assert supplement.due is None, "20 business days run from the communication actually made"
    assert supplement.target == at("2026-05-07T23:59:59-03:00")


def test_the_lgpd_supplement_runs_20_business_days_from_the_communication_to_the_anpd(
    obligations: Assess,
) -> None:
    # Res. CD/ANPD 15/2024 Art. 6 §3: supplementary information within 20 business days
    # "counted from the date of the communication".
    found = obligations(
        aware_at="2026-04-01T15:00:00-03:00", affected={"BR": 10}, categories=["credentials"],
        severity="high",
        notified_at={"lgpd-authority/notification": "2026-04-02T10:00:00-03:00"},
    )  # fmt: skip
    # Good Friday, Tiradentes and Labour Day are not business days in Brasília.
    assert found["lgpd-authority/supplement/BR"].due == at("2026-05-05T23:59:59-03:00")


def test_lgpd_small_agents_get_double_time(obligations: Assess) -> None:
    found = obligations(
        aware_at="2026-04-01T15:00:00-03:00",
        affected={"BR": 10},
        categories=["payment"],
        severity="high",
        flags={"small_agent": True},
    )
    assert found["lgpd-authority/notification/BR"].due == at("2026-04-10T23:59:59-03:00")


def test_lgpd_contact_data_alone_is_recorded_but_not_notified(obligations: Assess) -> None:
    found = obligations(affected={"BR": 10}, severity="high")
    assert keys_of(found, "lgpd-authority") == set()
    assert keys_of(found, "lgpd-register") == {"lgpd-register/record/-"}


# ── Singapore ──
def test_singapore_500_individuals_is_a_significant_scale_for_the_pdpc(obligations: Assess) -> None:
    assert "sg-pdpa" not in regimes(obligations(affected={"SG": 499}))
    found = obligations(affected={"SG": 500}, assessed_at="2026-03-10T12:00:00+08:00")
    assert found["sg-pdpa-authority/notification/SG"].due is not None
    assert not keys_of(found, "sg-pdpa-individuals"), "scale alone does not require telling people"


def test_singapore_significant_harm_means_telling_individuals(obligations: Assess) -> None:
    found = obligations(affected={"SG": 2}, categories=["identity_document"])
    assert keys_of(found, "sg-pdpa-individuals")
    # No assessment recorded: no legal due time yet; projected from the 30-day guidance target.
    ob = found["sg-pdpa-authority/notification/SG"]
    assert ob.due is None and ob.target == at("2026-04-08T23:59:59+08:00")


def test_the_pdpc_is_told_by_the_end_of_the_third_day_after_the_day_of_assessment(
    obligations: Assess,
) -> None:
    # PDPA s. 26D(1): "no later than 3 calendar days after the day the organisation assesses".
    found = obligations(affected={"SG": 500}, assessed_at="2026-03-10T12:00:00+08:00")
    assert found["sg-pdpa-authority/notification/SG"].due == at("2026-03-13T23:59:59+08:00")


def test_the_30_day_singapore_assessment_is_pdpc_guidance_not_law(obligations: Assess) -> None:
    # s. 26C(3) asks for a reasonable and expeditious assessment; 30 days is the PDPC's target.
    ob = obligations(affected={"SG": 500})["sg-pdpa-authority/assessment/SG"]
    assert ob.due is None and ob.target == at("2026-04-05T23:00:00+08:00")


# ── Australia ──
def test_australia_likely_serious_harm_means_assessment_within_30_days(obligations: Assess) -> None:
    assert "au-privacy" not in regimes(obligations(affected={"AU": 5}, severity="medium"))
    found = obligations(affected={"AU": 5}, severity="high")
    assert found["au-privacy-authority/assessment/AU"].due == at("2026-04-06T02:00:00+10:00")
    assert found["au-privacy-individuals/notice/AU"].target is not None


def test_australia_remedial_action_avoids_notification(obligations: Assess) -> None:
    flags = {"risk_mitigated": True}
    assert "au-privacy" not in regimes(
        obligations(affected={"AU": 5}, severity="high", flags=flags)
    )


# ── South Korea ──
def test_korea_tells_every_data_subject_within_72_hours(obligations: Assess) -> None:
    found = obligations(affected={"KR": 1})
    assert found["kr-pipa-individuals/notice/KR"].due == at("2026-03-10T00:00:00+09:00")
    assert not keys_of(found, "kr-pipa-authority")


def test_korea_reports_1000_subjects_to_the_pipc(obligations: Assess) -> None:
    assert not keys_of(obligations(affected={"KR": 999}), "kr-pipa-authority")
    found = obligations(affected={"KR": 1000})
    assert found["kr-pipa-authority/report/KR"].due == at("2026-03-10T00:00:00+09:00")


def test_korea_reports_unlawful_access_from_outside_whatever_the_number(
    obligations: Assess,
) -> None:
    # Decree Art. 40(1)(3): unlawful access from outside, not any wrongful act.
    found = obligations(affected={"KR": 1}, flags={"external_unlawful_access": True})
    assert keys_of(found, "kr-pipa-authority")


def test_korea_an_insider_leak_of_few_people_is_not_reported_to_the_pipc(
    obligations: Assess,
) -> None:
    found = obligations(affected={"KR": 1}, flags={"malicious": True})
    assert not keys_of(found, "kr-pipa-authority")
    assert keys_of(found, "kr-pipa-individuals"), "the data subjects are still told"


def test_korea_no_report_where_the_data_were_recovered_before_anyone_accessed_them(
    obligations: Assess,
) -> None:
    # Decree Art. 40(1) proviso.
    flags = {"external_unlawful_access": True, "recovered_before_access": True}
    assert not keys_of(obligations(affected={"KR": 5000}, flags=flags), "kr-pipa-authority")


def test_korea_72_hours_run_from_becoming_aware_of_a_possible_leak(obligations: Assess) -> None:
    # PIPA Art. 34 as amended (in force 2026-09-11): awareness of the possibility starts the clock.
    found = obligations(aware_at="2026-09-14T09:00:00+09:00", affected={"KR": 1})
    ob = found["kr-pipa-individuals/notice/KR"]
    assert ob.due == at("2026-09-17T09:00:00+09:00")
    assert "possibility" in ob.deadline


# ── Canada ──
def test_canada_real_risk_of_significant_harm_means_opc_and_individuals(
    obligations: Assess,
) -> None:
    found = obligations(
        affected={"CA": 3}, severity="high", determined_at="2026-03-08T09:00:00-05:00"
    )
    assert found["ca-pipeda-authority/report/CA"].clock_start == at("2026-03-08T09:00:00-05:00")
    assert found["ca-pipeda-individuals/notice/CA"].due is None
    assert keys_of(found, "ca-pipeda-register")


def test_canada_low_harm_breach_is_only_recorded(obligations: Assess) -> None:
    found = obligations(affected={"CA": 3}, severity="low")
    assert keys_of(found, "ca-pipeda-authority") == set()
    assert keys_of(found, "ca-pipeda-register")


def test_canada_has_no_encryption_safe_harbour_for_an_assessed_real_risk(
    obligations: Assess,
) -> None:
    """Encryption lowers the probability of misuse (s. 10.1(8)); a high harm stands."""
    found = obligations(affected={"CA": 3}, severity="high", flags={"encrypted": True})
    assert keys_of(found, "ca-pipeda-authority") and keys_of(found, "ca-pipeda-individuals")


def test_canada_encrypted_sensitive_data_of_medium_harm_is_only_recorded(
    obligations: Assess,
) -> None:
    plain = obligations(affected={"CA": 3}, severity="medium", categories=["payment"])
    encrypted = obligations(
        affected={"CA": 3}, severity="medium", categories=["payment"], flags={"encrypted": True}
    )
    assert keys_of(plain, "ca-pipeda-authority")
    assert keys_of(encrypted, "ca-pipeda-authority") == set()
    assert keys_of(encrypted, "ca-pipeda-register")
