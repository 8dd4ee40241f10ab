"""A sample user directory for the demo and the benchmark: several countries and locales, a few
people without a usable email address, and minors with guardians."""

from __future__ import annotations

import base64
import random
import unicodedata
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.service.directory import save_people

# (country, region, locale, weight)
PLACES: list[tuple[str, str | None, str, int]] = [
    ("NL", None, "nl", 14),
    ("DE", None, "de", 14),
    ("FR", None, "fr", 10),
    ("ES", None, "es", 8),
    ("GB", None, "en", 10),
    ("US", "US-CA", "en", 12),
    ("US", "US-NY", "en", 6),
    ("US", "US-TX", "en", 5),
    ("BR", None, "pt_BR", 7),
    ("CN", None, "zh", 6),
    ("JP", None, "ja", 5),
    ("CA", None, "fr_CA", 3),
]
FIRST = [
    "Anna",
    "Jan",
    "Sofia",
    "Lucas",
    "Mia",
    "Noah",
    "Emma",
    "Liam",
    "Yuki",
    "Wei",
    "Ana",
    "João",
    "Chloé",
    "Pablo",
    "Hannah",
    "Omar",
]
LAST = [
    "de Vries",
    "Müller",
    "Martin",
    "García",
    "Smith",
    "Johnson",
    "Silva",
    "Wang",
    "Sato",
    "Tremblay",
    "Jansen",
    "Schmidt",
    "Dubois",
    "López",
    "Brown",
    "Li",
]


# A real-looking address per place: (street, city, postal code, region for the address).
ADDRESSES: dict[tuple[str, str | None], tuple[str, str, str, str]] = {
    ("NL", None): ("Damrak {n}", "Amsterdam", "1012 LG", ""),
    ("DE", None): ("Friedrichstraße {n}", "Berlin", "10117", ""),
    ("FR", None): ("{n} rue de Rivoli", "Paris", "75001", ""),
    ("ES", None): ("Calle de Alcalá {n}", "Madrid", "28014", "Madrid"),
    ("GB", None): ("{n} Baker Street", "London", "NW1 6XE", ""),
    ("US", "US-CA"): ("{n} Market Street", "San Francisco", "94103", "CA"),
    ("US", "US-NY"): ("{n} Broadway", "New York", "10007", "NY"),
    ("US", "US-TX"): ("{n} Congress Avenue", "Austin", "78701", "TX"),
    ("BR", None): ("Avenida Paulista, {n}", "São Paulo", "01310-100", "SP"),
    ("CN", None): ("长安街{n}号", "东城区", "100006", "北京市"),
    ("JP", None): ("千代田区丸の内{n}", "", "100-0005", "東京都"),
    ("CA", None): ("{n} rue Sainte-Catherine", "Montréal", "H2X 1Y4", "QC"),
}


def _address(country: str, region: str | None, i: int) -> dict[str, str]:
    street, city, postcode, area = ADDRESSES[(country, region)]
    return {
        "street": street.format(n=i % 200 + 1),
        "city": city,
        "postal_code": postcode,
        "region": area,
        "country": country,
    }


def _ascii(name: str) -> str:
    """Mailbox names as most directories hold them: `João Müller` → `joao`, `muller`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return plain.lower().replace(" ", "")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def push_subscription(pid: str, i: int) -> dict[str, Any]:
    """A Web Push subscription as a browser hands it over (keys derived from `i`, so the sample
    is the same on every run); the demo's push stand-in writes its payloads under out/push."""
    public = ec.derive_private_key(1000 + i, ec.SECP256R1()).public_key()
    p256dh = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "endpoint": f"https://updates.push.services.mozilla.com/wpush/v2/{pid}",
        "keys": {"p256dh": _b64url(p256dh), "auth": _b64url(i.to_bytes(16, "big"))},
    }


def sample_people(n: int, *, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    weights = [w for *_, w in PLACES]
    for i in range(1, n + 1):
        country, region, locale, _ = rng.choices(PLACES, weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        pid = f"p-{i:07d}"
        roll = rng.random()
        email: str | None = f"{_ascii(first)}.{_ascii(last)}.{i}@example.com"
        if roll < 0.02:
            email = None  # no email on file: recorded as not reachable by email
        elif roll < 0.025:
            email = f"{_ascii(first)}.{i}.at.example.com"  # malformed: routed around
        minor = 0.025 <= roll < 0.035 and i > 1
        email_unusable = roll < 0.025
        yield {
            "id": pid,
            "name": f"{first} {last}",
            "email": email,
            # Some without email have no phone either: they are told by letter.
            "phone": None if email is None and i % 2 == 0 else f"+3120{i:07d}",
            "locale": locale,
            "country": country,
            "region": region,
            "postal_address": _address(country, region, i),
            "is_minor": minor,
            "guardian_id": f"p-{i - 1:07d}" if minor else None,
            "birth_date": None,
            "channel_preferences": [],
            # Some without a usable email have the app, with notifications allowed.
            "push_subscriptions": [push_subscription(pid, i)] if email_unusable and i % 3 else [],
        }


def seed_directory(engine: Engine, n: int, *, chunk: int = 10_000) -> list[str]:
    """Insert the sample directory (existing ids are kept); returns the countries it spans."""
    batch: list[dict[str, Any]] = []
    with Session(engine) as session:
        for row in sample_people(n):
            batch.append(row)
            if len(batch) >= chunk:
                save_people(session, batch)
                batch = []
        save_people(session, batch)
        session.commit()
    return sorted({country for country, *_ in PLACES})
