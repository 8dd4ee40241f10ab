"""Golden files: every channel x locale x jurisdiction of the fixture incident, as sent.

    python -m tests.golden.render        rewrite tests/golden/out/ (and remove stale files)

Each file is what the channel's own code would send (`cli_preview.sendable`): email text (with
its subject) and HTML, the SMS body after segment budgeting, the spoken voice script, the push
payload, the letter as `pdftotext -layout` of its PDF (no PDFs are kept), the public page.
Layout: `out/<channel>/<jurisdiction>/<locale>.<ext>`; the public notice is the same in every
jurisdiction and lives under `out/announcement/public/`. Email and letters cover the whole
jurisdiction set; sms, voice and push do not depend on the notice format, so three
jurisdictions (three time zones) stand for the rest. Readers have long names on purpose.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from channels.base import ContactKind, ContactPointData, RenderedMessage
from incident.adapters.documents import load_document
from incident.adapters.tables import Incident, Person
from incident.domain.incident_spec import IncidentSpec, parse_incident_spec
from incident.domain.jurisdiction import country_of
from incident.entrypoints.cli_preview import incident_row, sendable
from incident.rendering import Renderer
from incident.service.compose import Composer, Delivery
from incident.service.sample import ADDRESSES
from incident.settings import templates_dir

HERE = Path(__file__).parent
FIXTURE = HERE / "incident.yaml"
OUT = HERE / "out"
INCIDENT_ID = "INC-2026-0042"
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # letters are dated, pages published, now
LOCALES = ("en", "nl", "de", "fr", "es", "pt", "zh", "ja")
JURISDICTIONS = ("NL", "DE", "FR", "ES", "GB", "US-CA", "US-MA", "US-NY", "BR", "CN", "JP", "CA")
SHORT_SET = ("NL", "US-CA", "JP")  # sms, voice, push: their layout has no notice format
CHANNELS: dict[str, tuple[str, ...]] = {
    "email": JURISDICTIONS,
    "letter": JURISDICTIONS,
    "sms": SHORT_SET,
    "voice": SHORT_SET,
    "push": SHORT_SET,
    "announcement": ("public",),
}
# Long names in each language: they must fit the window, the greeting and the SMS budget.
NAMES = {
    "en": "Christopher Alexander Montgomery-Fitzwilliam",
    "nl": "Alexandrina Wilhelmina van Oldenbarnevelt-Tjaarda",
    "de": "Johanna Friederike von Hohenzollern-Sigmaringen",
    "fr": "Anne-Marie Évelyne de La Rochefoucauld-Montmorency",
    "es": "José María Fernández de Córdoba y Pérez de Guzmán",
    "pt": "Maria Fernanda de Oliveira Albuquerque Cavalcanti",
    "zh": "欧阳慕容婉清",
    "ja": "勅使河原 左衛門三郎",
}
_ADDRESS_OF = {"US-MA": ("{n} Beacon Street", "Boston", "02108", "MA")}


@cache
def spec() -> IncidentSpec:
    return parse_incident_spec(load_document(FIXTURE))


@cache
def incident() -> Incident:
    row = incident_row(spec(), INCIDENT_ID)
    row.created_at = NOW
    return row


@cache
def composer() -> Composer:
    return Composer(
        Renderer(templates_dir()),
        message_domain="notices.example.org",
        message_key=b"test-message-key",
        enforce_content=False,
    )


def reader(jurisdiction: str | None, locale: str) -> Person:
    country = country_of(jurisdiction) if jurisdiction else "ZZ"
    region = jurisdiction if jurisdiction and "-" in jurisdiction else None
    return Person(id=f"golden-{locale}", name=NAMES[locale], locale=locale, country=country,
                  region=region)  # fmt: skip


def postal(jurisdiction: str) -> ContactPointData:
    country = country_of(jurisdiction)
    region = jurisdiction if "-" in jurisdiction else None
    street, city, code, area = _ADDRESS_OF.get(jurisdiction) or ADDRESSES[(country, region)]
    details = {"street": street.format(n=42), "city": city, "postal_code": code,
               "region": area, "country": country}  # fmt: skip
    return ContactPointData(ContactKind.POSTAL, "", details, country)


def message(channel: str, jurisdiction: str, locale: str) -> RenderedMessage:
    """The message the dispatcher would hand to `channel` for the golden reader."""
    if channel == "announcement":
        return public_page(locale)
    person = reader(jurisdiction, locale)
    contact = postal(jurisdiction) if channel == "letter" else None
    key = f"{INCIDENT_ID}:{person.id}:{channel}:1"
    categories = tuple(incident().categories)
    d = Delivery(key, 1, channel, incident(), person, person, categories, contact,
                 jurisdiction=jurisdiction)  # fmt: skip
    return composer().message(d)


def public_page(locale: str) -> RenderedMessage:
    """The public notice page in `locale`, as PublicationComposer renders it (no updates)."""
    c = composer()
    stand_in = Person(id="public", name="", locale=locale, country="ZZ")
    key = f"{INCIDENT_ID}:public:announcement:1"
    categories = tuple(incident().categories)
    d = Delivery(key, 1, "announcement", incident(), stand_in, stand_in, categories,
                 addressee_kind="public")  # fmt: skip
    renderer = c._renderer
    languages = [(loc, str(renderer.wording(loc).pub_language_name)) for loc in LOCALES]
    ctx = c.context(d).as_dict() | {
        "updates": [], "version": 1, "languages": languages, "published_at": NOW,
    }  # fmt: skip
    parts = renderer.render("announcement", "notice", locale, ctx)
    return RenderedMessage("", parts.locale, parts.subject, parts.text, d.key, "-", parts.html)


def combinations() -> Iterator[tuple[str, str, str]]:
    for channel, places in CHANNELS.items():
        for jurisdiction in places:
            for locale in LOCALES:
                yield channel, jurisdiction, locale


def pdf_text(pdf: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "letter.pdf"
        path.write_bytes(pdf)
        run = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                             check=True, capture_output=True)  # fmt: skip
    # Trailing spaces and the form feed between pages are layout noise, not content.
    lines = [line.rstrip() for line in run.stdout.decode().replace("\f", "\n\f\n").split("\n")]
    return ("\n".join(lines).strip("\n\f") + "\n").encode()


def files_for(channel: str, jurisdiction: str, locale: str) -> dict[str, bytes]:
    """`<ext>` -> bytes of the golden files of one combination (the letter as text only)."""
    msg = message(channel, jurisdiction, locale)
    files = sendable(channel, dataclasses.replace(msg), clock=lambda: NOW)
    if channel == "letter":
        return {"txt": pdf_text(files["pdf"])}
    if channel == "announcement":
        return {"html": files["html"]}
    return files


def render_all() -> dict[Path, bytes]:
    found: dict[Path, bytes] = {}
    for channel, jurisdiction, locale in combinations():
        for ext, data in files_for(channel, jurisdiction, locale).items():
            found[Path(channel) / jurisdiction / f"{locale}.{ext}"] = data
    return found


def main() -> int:
    if shutil.which("pdftotext") is None:
        print("pdftotext (poppler-utils) is needed for the letters", file=sys.stderr)
        return 2
    files = render_all()
    for stale in (p for p in OUT.rglob("*") if p.is_file()):
        if stale.relative_to(OUT) not in files:
            stale.unlink()
    for rel, data in files.items():
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    size = sum(len(d) for d in files.values())
    print(f"{len(files)} golden files, {size} bytes, in {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
