"""ISO 3166 jurisdictions: a country (`NL`) or a subdivision where the law differs (`US-CA`).

Where a person lives, as a jurisdiction (`jurisdiction_of(country, region)`):

- United States and Canada: the state or province (`US-CA`, `CA-QC`): breach-notice law
  differs by state, and by province (Alberta's PIPA, Quebec's Law 25), so the subdivision is
  kept. Without a region, the country (`US`): the federal rules still apply.
- Hong Kong, Macao (and Taiwan) are apart from mainland China: ISO 3166-1 gives them their
  own codes (HK, MO, TW) and they have their own data-protection law (PDPO, Macao's PDPA,
  Taiwan's PDPA). ISO 3166-2:CN also lists them as subdivisions (CN-HK, CN-MO, CN-TW), so a
  directory may file a Hong Kong resident as country CN, region CN-HK: that person's
  jurisdiction is HK, never CN or CN-HK (the PIPL rules match CN and its subdivisions).
- EU member states: the member state's own code (`DE`, `FR`), never `EU` and never one of its
  subdivisions: the GDPR and the national law apply to the whole state (the rules file groups
  the states as @EU/@EEA). Territories with an ISO 3166-1 code of their own that are part of a
  member state and of the EU (the French overseas departments, Saint-Martin, Åland) are that
  member state.
- Everywhere else: the subdivision when one is given (the rules match a subdivision by its
  country too: `BR-SP` matches `BR`), else the country.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})  # fmt: skip
# ISO 3166-2 subdivisions that are jurisdictions of their own, with their ISO 3166-1 code.
SEPARATE_SUBDIVISIONS = {"CN-HK": "HK", "CN-MO": "MO", "CN-TW": "TW"}
# ISO 3166-1 codes that are part of an EU member state (and of the EU).
EU_TERRITORIES = {
    "GP": "FR", "MQ": "FR", "GF": "FR", "RE": "FR", "YT": "FR", "MF": "FR", "AX": "FI",
}  # fmt: skip


@lru_cache(maxsize=4096)
def is_valid_jurisdiction(code: str) -> bool:
    """True for an ISO 3166-1 alpha-2 code or an ISO 3166-2 subdivision code, upper case."""
    if code != code.upper():
        return False
    if "-" in code:
        return pycountry.subdivisions.get(code=code) is not None  # type: ignore[no-untyped-call]
    return pycountry.countries.get(alpha_2=code) is not None


def country_of(jurisdiction: str) -> str:
    """`US-CA` -> `US`; `NL` -> `NL`."""
    return jurisdiction.split("-", 1)[0]


def region_code(country: str, region: str | None) -> str | None:
    """The ISO 3166-2 code of a region stored with or without its country: `CA` -> `US-CA`."""
    if not region:
        return None
    return region if region.startswith(f"{country}-") else f"{country}-{region}"


@lru_cache(maxsize=8192)
def jurisdiction_of(country: str, region: str | None) -> str:
    """The jurisdiction a person lives in (see the module docstring for each case)."""
    full = region_code(country, region)
    if full in SEPARATE_SUBDIVISIONS:
        return SEPARATE_SUBDIVISIONS[full]
    if country in EU_TERRITORIES:
        return EU_TERRITORIES[country]
    if country in EU_MEMBER_STATES or country in SEPARATE_SUBDIVISIONS.values():
        return country
    return full or country


def region_variants(region: str) -> list[str]:
    """The ways a directory may store an ISO 3166-2 region: `US-CA` and `CA` (with country US)."""
    country, _, local = region.partition("-")
    return [region, local] if local else [region, f"{country}-{region}"]
