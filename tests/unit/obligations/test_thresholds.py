"""Each count threshold flips exactly at its boundary: "more than 500" is 501+."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.obligations.conftest import Assess, keys_of

PII = ["identity_document", "payment"]
PHI: dict[str, Any] = {"categories": ["health"], "flags": {"hipaa_covered": True}}


@pytest.mark.parametrize(
    ("rule_id", "place", "below", "at_boundary", "extra"),
    [
        ("cac-authority", "CN", 999_999, 1_000_000, {}),
        ("appi-authority", "JP", 1000, 1001, {}),
        ("kr-pipa-authority", "KR", 999, 1000, {}),
        ("sg-pdpa-authority", "SG", 499, 500, {}),
        ("hipaa-hhs-500", "US-NY", 499, 500, PHI),
        ("hipaa-media", "US-NY", 500, 501, PHI),
        ("us-ca-authority", "US-CA", 500, 501, {"categories": PII}),
        ("us-ny-credit-bureaus", "US-NY", 5000, 5001, {"categories": PII}),
        ("us-tx-authority", "US-TX", 249, 250, {"categories": PII}),
        ("us-tx-credit-bureaus", "US-TX", 10_000, 10_001, {"categories": PII}),
        ("us-fl-authority", "US-FL", 499, 500, {"categories": PII}),
        ("us-fl-credit-bureaus", "US-FL", 1000, 1001, {"categories": PII}),
        ("us-wa-authority", "US-WA", 500, 501, {"categories": PII}),
        ("us-il-authority", "US-IL", 500, 501, {"categories": PII}),
    ],
)  # fmt: skip
def test_threshold_flips_exactly_at_its_boundary(
    obligations: Assess, rule_id: str, place: str, below: int, at_boundary: int,
    extra: dict[str, Any],
) -> None:  # fmt: skip
    assert not keys_of(obligations(affected={place: below}, **extra), rule_id)
    assert keys_of(obligations(affected={place: at_boundary}, **extra), rule_id)


def test_hipaa_annual_log_is_for_fewer_than_500(obligations: Assess) -> None:
    extra: dict[str, Any] = {"categories": ["health"], "flags": {"hipaa_covered": True}}
    assert keys_of(obligations(affected={"US-NY": 499}, **extra), "hipaa-hhs-log")
    assert not keys_of(obligations(affected={"US-NY": 500}, **extra), "hipaa-hhs-log")


def test_thresholds_count_persons_of_the_covered_jurisdiction_only(obligations: Assess) -> None:
    found = obligations(affected={"US-CA": 300, "US-NV": 300}, categories=PII)
    assert not keys_of(found, "us-ca-authority")


@pytest.mark.parametrize("rule_id", ["us-ca", "us-ny", "us-tx", "us-fl", "us-ma", "us-wa", "us-il"])
def test_state_substitute_notice_when_cost_exceeds_250000(
    obligations: Assess, rule_id: str
) -> None:
    place = rule_id.upper()
    key = f"{rule_id}-individuals/notice/{place}"
    exact = obligations(affected={place: 3}, categories=PII, notice_cost_usd=250_000)[key]
    above = obligations(affected={place: 3}, categories=PII, notice_cost_usd=250_001)[key]
    assert exact.substitute is not None and exact.substitute.decision == "individual"
    assert above.substitute is not None and above.substitute.decision == "replace"
    assert "$250,000" in above.substitute.reason


@pytest.mark.parametrize("rule_id", ["us-ca", "us-ny", "us-tx", "us-fl", "us-ma", "us-wa", "us-il"])
def test_state_substitute_notice_for_more_than_500000_persons(
    obligations: Assess, rule_id: str
) -> None:
    place = rule_id.upper()
    key = f"{rule_id}-individuals/notice/{place}"
    exact = obligations(affected={place: 500_000}, categories=PII)[key]
    above = obligations(affected={place: 500_001}, categories=PII)[key]
    assert exact.substitute is not None and exact.substitute.decision == "individual"
    assert above.substitute is not None and above.substitute.decision == "replace"


@pytest.mark.parametrize("rule_id", ["us-ca", "us-ny", "us-tx", "us-fl", "us-ma", "us-wa", "us-il"])
def test_state_substitute_notice_for_missing_contact_details(
    obligations: Assess, rule_id: str
) -> None:
    place = rule_id.upper()
    key = f"{rule_id}-individuals/notice/{place}"
    found = obligations(affected={place: 30}, unreachable={place: 1}, categories=PII)[key]
    assert found.substitute is not None and found.substitute.decision == "complement"
    assert "contact" in found.substitute.reason
