"""ISO 3166 jurisdictions: a country (`NL`) or a subdivision where the law differs (`US-CA`)."""

from __future__ import annotations

from functools import lru_cache

import pycountry


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


def jurisdiction_of(country: str, region: str | None) -> str:
    """The jurisdiction a person lives in: the subdivision where one is known, else the country."""
    if region:
        return region if region.startswith(f"{country}-") else f"{country}-{region}"
    return country


def region_variants(region: str) -> list[str]:
    """The ways a directory may store an ISO 3166-2 region: `US-CA` and `CA` (with country US)."""
    country, _, local = region.partition("-")
    return [region, local] if local else [region, f"{country}-{region}"]
