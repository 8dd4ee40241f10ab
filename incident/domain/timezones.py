"""The time zone a person reads their notice in, from their country and region.

A country with one zone in the tz database (`zone.tab`, shipped with `tzdata`) gets that zone.
A country with several gets its region's zone from the table below (ISO 3166-2 codes: `US-CA`,
`AU-NSW`, `CA-ON`, `BR-SP`), else its most populous zone. Unknown country: None, and the caller
keeps the instant's own offset. Pure: no I/O besides reading `zone.tab` once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Countries with several zones in zone.tab: the zone most of their people live in.
DEFAULT_ZONE: dict[str, str] = {
    "AQ": "Antarctica/McMurdo", "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney", "BR": "America/Sao_Paulo", "CA": "America/Toronto",
    "CD": "Africa/Kinshasa", "CL": "America/Santiago", "CN": "Asia/Shanghai",
    "CY": "Asia/Nicosia", "DE": "Europe/Berlin", "EC": "America/Guayaquil",
    "ES": "Europe/Madrid", "FM": "Pacific/Pohnpei", "GL": "America/Nuuk",
    "ID": "Asia/Jakarta", "KI": "Pacific/Tarawa", "KZ": "Asia/Almaty", "MH": "Pacific/Majuro",
    "MN": "Asia/Ulaanbaatar", "MX": "America/Mexico_City", "MY": "Asia/Kuala_Lumpur",
    "NZ": "Pacific/Auckland", "PF": "Pacific/Tahiti", "PG": "Pacific/Port_Moresby",
    "PS": "Asia/Hebron", "PT": "Europe/Lisbon", "RU": "Europe/Moscow", "UA": "Europe/Kyiv",
    "UM": "Pacific/Wake", "US": "America/New_York", "UZ": "Asia/Tashkent",
}  # fmt: skip


def _zones(zone: str, regions: str) -> dict[str, str]:
    return dict.fromkeys(regions.split(), zone)


# Regions whose clocks differ from their country's default. A state split between zones gets
# the zone most of its people live in.
REGION_ZONE: dict[str, str] = {
    **_zones("America/Chicago", "US-AL US-AR US-IL US-IA US-KS US-LA US-MN US-MS US-MO US-NE "
             "US-ND US-OK US-SD US-TN US-TX US-WI"),
    **_zones("America/Denver", "US-CO US-MT US-NM US-UT US-WY"),
    **_zones("America/Phoenix", "US-AZ"), **_zones("America/Boise", "US-ID"),
    **_zones("America/Los_Angeles", "US-CA US-NV US-OR US-WA"),
    **_zones("America/Anchorage", "US-AK"), **_zones("Pacific/Honolulu", "US-HI"),
    **_zones("America/Detroit", "US-MI"), **_zones("America/Indiana/Indianapolis", "US-IN"),
    **_zones("America/Kentucky/Louisville", "US-KY"),
    **_zones("America/Puerto_Rico", "US-PR"), **_zones("Pacific/Guam", "US-GU"),
    **_zones("America/St_Thomas", "US-VI"), **_zones("Pacific/Pago_Pago", "US-AS"),
    **_zones("Pacific/Saipan", "US-MP"),
    **_zones("America/Edmonton", "CA-AB CA-NT"), **_zones("America/Vancouver", "CA-BC"),
    **_zones("America/Winnipeg", "CA-MB"), **_zones("America/Moncton", "CA-NB"),
    **_zones("America/St_Johns", "CA-NL"), **_zones("America/Halifax", "CA-NS CA-PE"),
    **_zones("America/Iqaluit", "CA-NU"), **_zones("America/Regina", "CA-SK"),
    **_zones("America/Whitehorse", "CA-YT"),
    **_zones("Australia/Melbourne", "AU-VIC"), **_zones("Australia/Brisbane", "AU-QLD"),
    **_zones("Australia/Adelaide", "AU-SA"), **_zones("Australia/Perth", "AU-WA"),
    **_zones("Australia/Hobart", "AU-TAS"), **_zones("Australia/Darwin", "AU-NT"),
    **_zones("America/Rio_Branco", "BR-AC"), **_zones("America/Manaus", "BR-AM"),
    **_zones("America/Porto_Velho", "BR-RO"), **_zones("America/Boa_Vista", "BR-RR"),
    **_zones("America/Cuiaba", "BR-MT"), **_zones("America/Campo_Grande", "BR-MS"),
    **_zones("America/Belem", "BR-PA BR-AP"), **_zones("America/Araguaina", "BR-TO"),
    **_zones("America/Fortaleza", "BR-CE BR-MA BR-PB BR-PI BR-RN"),
    **_zones("America/Recife", "BR-PE"), **_zones("America/Maceio", "BR-AL BR-SE"),
    **_zones("America/Bahia", "BR-BA"), **_zones("America/Noronha", "BR-FN"),
    **_zones("America/Tijuana", "MX-BCN"), **_zones("America/Mazatlan", "MX-BCS MX-SIN MX-NAY"),
    **_zones("America/Hermosillo", "MX-SON"), **_zones("America/Chihuahua", "MX-CHH"),
    **_zones("America/Cancun", "MX-ROO"),
    **_zones("Europe/Kaliningrad", "RU-KGD"), **_zones("Europe/Samara", "RU-SAM RU-UD"),
    **_zones("Europe/Astrakhan", "RU-AST"), **_zones("Europe/Saratov", "RU-SAR"),
    **_zones("Europe/Ulyanovsk", "RU-ULY"),
    **_zones("Asia/Yekaterinburg", "RU-SVE RU-CHE RU-BA RU-PER RU-TYU RU-ORE RU-KGN RU-KHM "
             "RU-YAN"),
    **_zones("Asia/Omsk", "RU-OMS"), **_zones("Asia/Novosibirsk", "RU-NVS"),
    **_zones("Asia/Tomsk", "RU-TOM"), **_zones("Asia/Barnaul", "RU-ALT RU-AL"),
    **_zones("Asia/Novokuznetsk", "RU-KEM"), **_zones("Asia/Krasnoyarsk", "RU-KYA RU-TY RU-KK"),
    **_zones("Asia/Irkutsk", "RU-IRK RU-BU"), **_zones("Asia/Chita", "RU-ZAB"),
    **_zones("Asia/Yakutsk", "RU-AMU RU-SA"), **_zones("Asia/Vladivostok", "RU-PRI RU-KHA RU-YEV"),
    **_zones("Asia/Sakhalin", "RU-SAK"), **_zones("Asia/Magadan", "RU-MAG"),
    **_zones("Asia/Kamchatka", "RU-KAM"), **_zones("Asia/Anadyr", "RU-CHU"),
    **_zones("Asia/Makassar", "ID-BA ID-NB ID-NT ID-SN ID-SG ID-ST ID-SA ID-GO ID-SR ID-KI "
             "ID-KS ID-KU"),
    **_zones("Asia/Jayapura", "ID-PA ID-PB ID-PD ID-PE ID-PS ID-PT ID-MA ID-MU"),
    **_zones("Asia/Pontianak", "ID-KB ID-KT"),
    **_zones("Asia/Kuching", "MY-12 MY-13 MY-15"),
    **_zones("Atlantic/Canary", "ES-CN ES-GC ES-TF"),
    **_zones("Atlantic/Azores", "PT-20"), **_zones("Atlantic/Madeira", "PT-30"),
    **_zones("Pacific/Galapagos", "EC-W"), **_zones("Pacific/Chatham", "NZ-CIT"),
    **_zones("America/Punta_Arenas", "CL-MA"),
}  # fmt: skip


@lru_cache(maxsize=1)
def country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country code -> its zones, from the tz database's `zone.tab`."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            zones.setdefault(country, []).append(zone)
    return {country: tuple(names) for country, names in zones.items()}


def _load(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=4096)
def zone_for(country: str, region: str | None) -> ZoneInfo | None:
    """`zone_for("US", "US-CA")` (or region "CA") -> America/Los_Angeles; unknown -> None."""
    country = country.strip().upper()
    zones = country_zones().get(country)
    if not zones:
        return None
    if region:
        region = region.strip().upper()
        code = region if region.startswith(f"{country}-") else f"{country}-{region}"
        if code in REGION_ZONE:
            return _load(REGION_ZONE[code])
    if len(zones) == 1:
        return _load(zones[0])
    return _load(DEFAULT_ZONE.get(country, zones[0]))


def zone_name(country: str | None, region: str | None) -> str | None:
    """The IANA name of `zone_for`, or None: what a render context carries."""
    zone = zone_for(country, region) if country else None
    return zone.key if zone is not None else None


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with a UTC offset, within 1970-2999 (UTC): deadlines years after it
    still fit a datetime. ValueError with the rule, never an OverflowError."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time ({exc})") from None
    if when.utcoffset() is None:
        raise ValueError("needs a UTC offset, e.g. 2026-03-06T16:00:00+01:00")
    try:
        utc = when.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError("must be between 1970-01-01 and 2999-12-31 (UTC)")
    return when
