"""Jurisdiction from country and region: US states and Canadian provinces kept, Hong Kong and
Macao apart from mainland China, EU member states as themselves."""

from __future__ import annotations

from datetime import date

import pytest

from incident.domain.audience import DirectoryEntry, decide_audience
from incident.domain.jurisdiction import (
    EU_MEMBER_STATES,
    is_valid_jurisdiction,
    jurisdiction_of,
    region_code,
)
from incident.obligations.engine import matches
from incident.obligations.rules_loader import load_rules


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        ("US", "US-CA", "US-CA"),
        ("US", "CA", "US-CA"),  # a region stored without its country
        ("US", None, "US"),
        ("CA", "CA-QC", "CA-QC"),
        ("CA", "AB", "CA-AB"),
        ("CA", None, "CA"),
    ],
)
def test_us_states_and_canadian_provinces_are_kept(
    country: str, region: str | None, expected: str
) -> None:
    """A US state or Canadian province is the person's jurisdiction, with or without prefix."""
    assert jurisdiction_of(country, region) == expected


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        ("HK", None, "HK"),
        ("MO", None, "MO"),
        ("CN", "CN-HK", "HK"),  # ISO 3166-2:CN lists Hong Kong as a subdivision of CN
        ("CN", "HK", "HK"),
        ("CN", "CN-MO", "MO"),
        ("CN", "MO", "MO"),
        ("CN", "CN-TW", "TW"),
        ("CN", "CN-BJ", "CN-BJ"),  # mainland: a subdivision of CN
        ("CN", None, "CN"),
    ],
)
def test_hong_kong_and_macao_are_apart_from_mainland_china(
    country: str, region: str | None, expected: str
) -> None:
    """HK and MO never become CN, whether filed as countries or as CN's subdivisions."""
    assert jurisdiction_of(country, region) == expected


def test_hong_kong_residents_are_outside_the_pipl_rules() -> None:
    """The rules that match CN (and its subdivisions) do not match HK or MO."""
    rules = load_rules()
    for country, region in (("HK", None), ("CN", "CN-HK"), ("MO", None), ("CN", "CN-MO")):
        assert not matches(jurisdiction_of(country, region), ["CN"], rules)
    assert matches(jurisdiction_of("CN", "CN-BJ"), ["CN"], rules)


@pytest.mark.parametrize("state", sorted(EU_MEMBER_STATES))
def test_eu_member_states_are_their_own_codes(state: str) -> None:
    """Each member state is itself, a valid ISO code, and in the rules' @EU group."""
    assert jurisdiction_of(state, None) == state
    assert is_valid_jurisdiction(state)
    assert state in load_rules().groups["EU"]


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        ("DE", "DE-BY", "DE"),  # national law and the GDPR: the member state, not the Land
        ("FR", "FR-75C", "FR"),
        ("ES", "ES-CN", "ES"),  # the Canary Islands are Spain
        ("PT", "PT-20", "PT"),  # the Azores are Portugal
        ("GP", None, "FR"),  # Guadeloupe: own ISO 3166-1 code, part of France and the EU
        ("RE", None, "FR"),
        ("AX", None, "FI"),  # Åland
        ("NL", None, "NL"),
    ],
)
def test_eu_subdivisions_and_territories_are_the_member_state(
    country: str, region: str | None, expected: str
) -> None:
    assert jurisdiction_of(country, region) == expected


def test_the_eu_is_not_a_jurisdiction_of_a_person() -> None:
    """No person lives in `EU`: the group name is not an ISO 3166 code."""
    assert not is_valid_jurisdiction("EU")
    assert all(jurisdiction_of(s, None) != "EU" for s in EU_MEMBER_STATES)


def test_region_code_keeps_the_iso_3166_2_code() -> None:
    """Region validation needs the subdivision code itself, even where the jurisdiction differs."""
    assert region_code("CN", "HK") == "CN-HK"
    assert region_code("US", "US-CA") == "US-CA"
    assert region_code("US", None) is None


def test_the_audience_decision_stores_the_jurisdiction() -> None:
    """What enrichment stores on the AffectedPerson comes from the same function."""
    entry = DirectoryEntry("p", "CN", "CN-HK", False, None, None)
    decision = decide_audience(entry, None, today=date(2026, 1, 1), majority_ages={})
    assert decision.jurisdiction == "HK"
