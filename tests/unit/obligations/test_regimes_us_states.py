"""The other US states with a fixed deadline for telling residents, and their AG thresholds."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.unit.obligations.conftest import Assess, keys_of

START = "2026-03-02T12:00:00+00:00"  # 2 March in every US time zone
DAYS = {"CO": 30, "ME": 30, "AL": 45, "AZ": 45, "IN": 45, "MD": 45, "NM": 45, "OH": 45,
        "OR": 45, "RI": 45, "TN": 45, "VT": 45, "WI": 45, "CT": 60, "DE": 60, "LA": 60,
        "SD": 60}  # fmt: skip
# (state, fewest residents that bring in the Attorney General)
AG_THRESHOLD = {"CO": 500, "AL": 1001, "AZ": 1001, "NM": 1001, "OR": 251, "RI": 501, "DE": 501,
                "SD": 251, "ME": 1, "IN": 1, "MD": 1, "VT": 1, "CT": 1, "LA": 1}  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("state", "days"), sorted(DAYS.items()))
def test_each_state_gives_residents_its_fixed_number_of_days(
    obligations: Assess, state: str, days: int
) -> None:
    found = obligations(
        affected={f"US-{state}": 3}, categories=["identity_document"],
        discovered_at=START, determined_at=START,
    )  # fmt: skip
    ob = found[f"us-{state.lower()}-individuals/notice/US-{state}"]
    assert ob.due is not None and ob.due.date() == date(2026, 3, 2) + timedelta(days=days)
    assert ob.citation_article and ob.citation_url.startswith("http")


@pytest.mark.parametrize(("state", "threshold"), sorted(AG_THRESHOLD.items()))
def test_each_state_attorney_general_from_its_threshold(
    obligations: Assess, state: str, threshold: int
) -> None:
    def ag(n: int) -> set[str]:
        found = obligations(affected={f"US-{state}": n}, categories=["identity_document"])
        return keys_of(found, f"us-{state.lower()}-authority")

    assert ag(threshold)
    if threshold > 1:
        assert not ag(threshold - 1)


@pytest.mark.parametrize("state", ["OH", "TN", "WI"])
def test_ohio_tennessee_and_wisconsin_require_no_attorney_general_notice(
    obligations: Assess, state: str
) -> None:
    found = obligations(affected={f"US-{state}": 100_000}, categories=["identity_document"])
    assert not keys_of(found, f"us-{state.lower()}-authority")


def test_vermont_ag_preliminary_notice_within_14_business_days_of_discovery(
    obligations: Assess,
) -> None:
    # 9 V.S.A. § 2435(b)(3)(A); Vermont counts Town Meeting Day (3 March 2026) as a holiday.
    found = obligations(affected={"US-VT": 1}, categories=["payment"], discovered_at=START)
    ob = found["us-vt-authority/preliminary/US-VT"]
    assert ob.due == at("2026-03-23T23:59:59-04:00")


def test_louisiana_ag_within_10_days_of_distributing_the_resident_notice(
    obligations: Assess,
) -> None:
    # LAC 16:III.701: 10 days after the notice to Louisiana residents is distributed.
    found = obligations(
        affected={"US-LA": 1}, categories=["payment"], discovered_at=START,
        notified_at={"us-la-individuals/notice": "2026-03-10T10:00:00-05:00"},
    )  # fmt: skip
    assert found["us-la-authority/report/US-LA"].due == at("2026-03-20T10:00:00-05:00")


def test_maryland_ag_is_told_before_residents(obligations: Assess) -> None:
    # Md. Code, Com. Law § 14-3504(h): prior to notifying residents.
    found = obligations(
        affected={"US-MD": 1}, categories=["payment"],
        notified_at={"us-md-individuals/notice": "2026-03-10T10:00:00-05:00"},
    )  # fmt: skip
    assert found["us-md-authority/report/US-MD"].due == at("2026-03-10T10:00:00-05:00")
