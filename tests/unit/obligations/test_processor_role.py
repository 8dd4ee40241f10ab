"""The processor's duty: as processor the organisation tells its controller (GDPR Art. 33(2),
UK GDPR Art. 33(2), the LGPD operator and PIPL entrusted party by contract), not the authority
nor the data subjects of those regimes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incident.errors import InvalidInputs
from incident.obligations import Rules
from tests.unit.obligations.conftest import Assess, regimes

PLACES = {"NL": 10, "GB": 3, "BR": 4, "CN": 2}
HIGH_RISK = {"severity": "critical", "categories": ["contact", "payment"], "affected": PLACES}
PROCESSOR_RULES = {"gdpr-processor", "uk-gdpr-processor", "lgpd-processor", "pipl-processor"}
SHIFTED = ("gdpr", "uk-gdpr", "lgpd", "pipl")


def rule_ids(found: Assess, **facts: object) -> set[str]:
    return {ob.rule_id for ob in found(**facts).values()}


def test_a_processor_tells_each_regimes_controller_and_neither_authority_nor_data_subjects(
    obligations: Assess,
) -> None:
    found = obligations(**HIGH_RISK, role="processor")
    mine = {ob.rule_id: ob for ob in found.values() if ob.regime in SHIFTED}
    assert set(mine) == PROCESSOR_RULES
    assert {ob.recipient for ob in mine.values()} == {"controller"}


def test_a_controller_owes_the_authority_and_data_subject_notices_and_no_controller_notice(
    obligations: Assess,
) -> None:
    ids = rule_ids(obligations, **HIGH_RISK)
    assert ids.isdisjoint(PROCESSOR_RULES)
    assert {"gdpr-authority", "gdpr-individuals", "uk-gdpr-authority", "lgpd-authority",
            "lgpd-individuals", "pipl-authority", "pipl-individuals"} <= ids  # fmt: skip


def test_the_role_defaults_to_controller(obligations: Assess) -> None:
    assert rule_ids(obligations, **HIGH_RISK) == rule_ids(
        obligations, **HIGH_RISK, role="controller"
    )


def test_a_processor_tells_the_controller_of_every_breach_encrypted_or_low_risk(
    obligations: Assess,
) -> None:
    """Art. 33(2) has no risk threshold and no encryption exemption: the controller assesses."""
    found = obligations(
        severity="low", affected={"NL": 1}, flags={"encrypted": True}, role="processor"
    )
    assert "gdpr-processor/notice/EU" in found
    assert "gdpr" in regimes(found)


def test_the_controller_notice_is_due_without_undue_delay_from_awareness(
    obligations: Assess,
) -> None:
    ob = obligations(affected={"DE": 5}, role="processor")["gdpr-processor/notice/EU"]
    assert ob.due is None  # the law names no hour count
    assert ob.clock_start is not None and ob.target == ob.clock_start + timedelta(hours=72)
    assert ob.citation_article.startswith("GDPR Art. 33(2)")
    assert ob.recipient_name == "the controller named in the incident"


def test_a_processor_outside_these_regimes_keeps_the_duties_that_bind_any_role(
    obligations: Assess,
) -> None:
    """NIS2 binds the entity itself, whatever its role for the personal data."""
    found = obligations(
        affected={"NL": 5}, severity="high", flags={"nis2_entity": True}, role="processor"
    )
    assert "nis2" in regimes(found) and "gdpr-authority/notification/NL" not in found


def test_the_privacy_policy_promises_are_not_a_processors(obligations: Assess) -> None:
    ids = rule_ids(obligations, affected={"NL": 5}, role="processor")
    assert {"policy-individuals", "policy-authority", "policy-public"}.isdisjoint(ids)


def test_every_controller_recipient_rule_binds_processors_only(rules: Rules) -> None:
    to_controller = {r.id for r in rules.rules if r.recipient == "controller"}
    assert to_controller == PROCESSOR_RULES
    assert all(rules.by_id(i).roles == ("processor",) for i in to_controller)
    for rule in rules.rules:
        if rule.regime in SHIFTED and rule.recipient in ("authority", "individuals"):
            assert rule.roles == ("controller",), rule.id


@pytest.mark.parametrize("role", ["owner", "", 1, ["processor"]])
def test_an_unknown_role_is_refused_naming_the_field(obligations: Assess, role: object) -> None:
    with pytest.raises(InvalidInputs) as caught:
        obligations(affected={"NL": 1}, role=role)
    assert [e.field for e in caught.value.errors] == ["role"]
