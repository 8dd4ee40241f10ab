"""The reader's time zone from their country and region."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from incident.domain.timezones import (
    DEFAULT_ZONE,
    REGION_ZONE,
    country_zones,
    zone_for,
    zone_name,
)


@pytest.mark.parametrize(
    ("country", "region", "zone"),
    [
        ("US", "US-CA", "America/Los_Angeles"),
        ("US", "CA", "America/Los_Angeles"),
        ("us", "us-ca", "America/Los_Angeles"),
        ("US", "US-TX", "America/Chicago"),
        ("US", "US-NY", "America/New_York"),
        ("AU", "AU-NSW", "Australia/Sydney"),
        ("AU", "AU-WA", "Australia/Perth"),
        ("CA", "CA-ON", "America/Toronto"),
        ("CA", "CA-BC", "America/Vancouver"),
        ("BR", "BR-SP", "America/Sao_Paulo"),
        ("BR", "BR-AM", "America/Manaus"),
        ("ES", "ES-CN", "Atlantic/Canary"),
    ],
)
def test_a_region_of_a_country_with_several_zones_gets_its_own_zone(
    country: str, region: str, zone: str
) -> None:
    assert zone_for(country, region) == ZoneInfo(zone)


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("NL", "Europe/Amsterdam"),
        ("JP", "Asia/Tokyo"),
        ("FR", "Europe/Paris"),
        ("IN", "Asia/Kolkata"),
    ],
)
def test_a_country_with_one_zone_gets_that_zone_whatever_the_region(
    country: str, zone: str
) -> None:
    assert zone_for(country, None) == ZoneInfo(zone)
    assert zone_for(country, f"{country}-XX") == ZoneInfo(zone)


@pytest.mark.parametrize(
    ("country", "zone"),
    [("US", "America/New_York"), ("AU", "Australia/Sydney"), ("CA", "America/Toronto"),
     ("BR", "America/Sao_Paulo"), ("RU", "Europe/Moscow"), ("MX", "America/Mexico_City")],
)  # fmt: skip
def test_a_country_with_several_zones_and_no_known_region_gets_its_most_populous_zone(
    country: str, zone: str
) -> None:
    assert zone_for(country, None) == ZoneInfo(zone)
    assert zone_for(country, "nowhere") == ZoneInfo(zone)


def test_an_unknown_country_has_no_zone_so_the_incidents_offset_is_kept() -> None:
    assert zone_for("XX", None) is None
    assert zone_for("", "US-CA") is None
    assert zone_name(None, None) is None
    assert zone_name("XX", "XX-1") is None


def test_zone_name_is_the_iana_name_a_render_context_carries() -> None:
    assert zone_name("US", "US-CA") == "America/Los_Angeles"
    assert zone_name("NL", None) == "Europe/Amsterdam"


def test_every_country_with_several_zones_has_a_default_that_is_one_of_its_zones() -> None:
    several = {c for c, zones in country_zones().items() if len(zones) > 1}
    assert several <= DEFAULT_ZONE.keys(), several - DEFAULT_ZONE.keys()
    for country, zone in DEFAULT_ZONE.items():
        ZoneInfo(zone)
        assert zone in country_zones()[country], (country, zone)


def test_every_region_zone_exists_in_the_tz_database() -> None:
    for region, zone in REGION_ZONE.items():
        assert ZoneInfo(zone).key == zone, region
        assert region.split("-")[0] in country_zones(), region


def test_the_incident_of_the_brief_reads_20_november_in_amsterdam_and_19_in_new_york() -> None:
    aware = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 20 Nov 00:30 +01:00
    amsterdam, new_york = zone_for("NL", None), zone_for("US", "US-NY")
    assert amsterdam is not None and new_york is not None
    assert aware.astimezone(amsterdam).day == 20 and aware.astimezone(amsterdam).tzname() == "CET"
    assert aware.astimezone(new_york).day == 19
