"""LetterChannel: PDFs in a drop folder, checked with poppler (pdftotext, pdfinfo, pdftoppm)."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels import REGISTRY
from channels.base import ContactPointData, RenderedMessage
from channels.errors import ChannelFault, RecipientRejected
from channels.letter import MANIFEST, LetterChannel, check_letter, letter_id_for
from channels.pdf import GEOMETRY
from incident.rendering import NoticeContext, Renderer
from incident.settings import templates_dir

if shutil.which("pdftotext") is None:  # pragma: no cover - CI installs poppler-utils
    pytest.fail("poppler-utils missing: apt-get install -y poppler-utils", pytrace=False)

RENDERER = Renderer(templates_dir(), required_parts={"letter": ("subject", "text")})
SENDER = "Example Services GmbH · Friedrichstraße 10 · 10117 Berlin"
NOW = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)

PEOPLE: dict[str, tuple[str, str, dict[str, str], list[str], str]] = {
    # locale, name, directory fields, address lines expected in the window, paper
    "de": ("de", "Anna Schmidt",
           {"street": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117",
            "country": "DE"},
           ["Anna Schmidt", "Unter den Linden 1", "10117 BERLIN"], "A4"),
    "us": ("en", "John Doe",
           {"street_address": "1600 Amphitheatre Pkwy", "city": "Mountain View", "region": "US-CA",
            "postal_code": "94043", "country_code": "US"},
           ["John Doe", "1600 Amphitheatre Pkwy", "MOUNTAIN VIEW, CA 94043", "UNITED STATES"],
           "letter"),
    "jp": ("ja", "山田 太郎",
           {"postal_code": "100-0005", "region": "東京都", "city": "千代田区",
            "street": "丸の内1-1-1", "country": "JP"},
           ["〒100-0005", "東京都", "千代田区丸の内1-1-1", "山田 太郎", "JAPAN"], "A4"),
    "cn": ("zh", "王伟",
           {"postal_code": "100022", "region": "北京市", "city": "朝阳区", "street": "建国路88号",
            "country": "CN"},
           ["100022", "北京市朝阳区", "建国路88号", "王伟", "CHINA"], "A4"),
}  # fmt: skip


def _point(fields: Mapping[str, str]) -> ContactPointData:
    return ContactPointData(
        "postal", "\n".join(fields.values()), dict(fields), fields.get("country")
    )


def _message(locale: str, name: str, point: ContactPointData, key: str) -> RenderedMessage:
    ctx = NoticeContext(
        recipient_name=name, subject_name=None, locale=locale, incident_ref="INC-7",
        title="Unauthorised access to the customer database", description="Description.",
        impact="", measures_taken="We closed the hole.", measures_planned="",
        advice="", remedies="", categories=("contact", "payment"),
        aware_at=datetime(2026, 3, 2, 15, tzinfo=UTC), occurred_at=None,
        contact_email="privacy@example.org", contact_phone=None, contact_url=None,
    )  # fmt: skip
    parts = RENDERER.render("letter", "notice", locale, ctx)
    return RenderedMessage(
        recipient=point.value,
        locale=parts.locale,
        subject=parts.subject,
        body_text=parts.text,
        idempotency_key=key,
        message_id=f"{key}@example.org",
        contact=point,
    )


def _run(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _manifest_rows(root: Path) -> list[dict[str, str]]:
    rows = []
    for manifest in sorted(root.glob(f"*/{MANIFEST}")):
        with manifest.open(encoding="utf-8", newline="") as fh:
            rows += [{**row, "folder": str(manifest.parent)} for row in csv.DictReader(fh)]
    return rows


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[LetterChannel]:
    ch = LetterChannel(
        drop_folder=tmp_path / "letters", return_address=SENDER, sender_country="DE",
        clock=lambda: NOW,
    )  # fmt: skip
    yield ch
    await ch.aclose()


def test_letter_is_registered_for_postal_addresses_with_subject_and_text() -> None:
    spec = REGISTRY["letter"]
    assert spec.contact_kinds == ("postal",)
    assert spec.template_parts == ("subject", "text")
    RENDERER.check(["letter"])  # every locale's letter renders; every s.<key> exists


@pytest.mark.parametrize("who", sorted(PEOPLE))
async def test_a_letter_has_the_address_in_the_window_and_the_notice_in_the_persons_language(
    who: str, channel: LetterChannel, tmp_path: Path
) -> None:
    """The window shows the country's address format; headings are in the reader's language."""
    locale, name, fields, lines, paper = PEOPLE[who]
    point = _point(fields)
    assert check_letter(point) is None
    receipt = await channel.deliver(_message(locale, name, point, f"INC-7:{who}:letter:1"))
    pdf = next((tmp_path / "letters").glob(f"*/{receipt.provider_id}.pdf"))

    geo = GEOMETRY[paper]  # only what shows through the envelope's window, on page 1
    crop = (geo.window_left - 2, geo.address_top, geo.window_width + 4,
            geo.window_top + geo.window_height - geo.address_top)  # fmt: skip
    x, y, w, h = (str(round(v)) for v in crop)
    window = _run("pdftotext", "-layout", "-f", "1", "-l", "1", "-x", x, "-y", y, "-W", w, "-H", h,
                  pdf, "-")  # fmt: skip
    assert [line.strip() for line in window.splitlines() if line.strip()] == lines
    text = _squeeze(_run("pdftotext", pdf, "-"))
    s = RENDERER.wording(locale)
    for heading in (s.letter_subject, s.h_happened, s.h_done, s.h_you, s.h_offer, s.h_contact):
        assert _squeeze(heading) in text
    assert _squeeze(s.greeting.format(name=name)) in text
    info = _run("pdfinfo", pdf)
    pages = int(info.split("Pages:")[1].split()[0])
    assert _squeeze(s.letter_page.format(page=pages, pages=pages)) in text
    assert f"({paper})" in info
    png = tmp_path / "page"
    _run("pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, png)
    assert png.with_suffix(".png").stat().st_size > 5_000


async def test_every_font_in_a_letter_is_embedded(channel: LetterChannel, tmp_path: Path) -> None:
    """A print house needs the glyphs in the file: CJK too, no system font substitution."""
    locale, name, fields, _, _ = PEOPLE["jp"]
    receipt = await channel.deliver(_message(locale, name, _point(fields), "INC-7:jp:letter:1"))
    pdf = next((tmp_path / "letters").glob(f"*/{receipt.provider_id}.pdf"))
    fonts = _run("pdffonts", pdf).splitlines()[2:]
    assert len(fonts) >= 2 and all(" yes yes yes " in line for line in fonts), fonts


async def test_the_manifest_lists_every_letter_with_its_pages_and_checksum(
    channel: LetterChannel, tmp_path: Path
) -> None:
    keys = {}
    for who, (locale, name, fields, _, _) in PEOPLE.items():
        key = f"INC-7:{who}:letter:1"
        keys[letter_id_for(f"{key}@example.org")] = who
        await channel.deliver(_message(locale, name, _point(fields), key))
    rows = _manifest_rows(tmp_path / "letters")
    assert {r["letter_id"]: r["person_id"] for r in rows} == keys
    for row in rows:
        pdf = Path(row["folder"]) / row["file"]
        assert hashlib.sha256(pdf.read_bytes()).hexdigest() == row["sha256"]
        assert f"Pages:           {row['pages']}\n" in _run("pdfinfo", pdf)
    assert {r["country"] for r in rows} == {"DE", "US", "JP", "CN"}


async def test_a_resend_replaces_the_same_file_and_manifest_row(
    channel: LetterChannel, tmp_path: Path
) -> None:
    locale, name, fields, _, _ = PEOPLE["de"]
    msg = _message(locale, name, _point(fields), "INC-7:de:letter:1")
    first = await channel.deliver(msg)
    second = await channel.deliver(msg)
    assert first.provider_id == second.provider_id == letter_id_for("INC-7:de:letter:1@example.org")
    assert len(list((tmp_path / "letters").glob("*/*.pdf"))) == 1
    assert len(_manifest_rows(tmp_path / "letters")) == 1
    assert not list((tmp_path / "letters").glob("*/.*.tmp"))


async def test_a_full_print_run_is_closed_and_the_next_letter_starts_another(
    tmp_path: Path,
) -> None:
    ch = LetterChannel(drop_folder=tmp_path, batch_max_letters=2, batch_window=timedelta(hours=1))
    locale, name, fields, _, _ = PEOPLE["de"]
    for n in range(3):
        await ch.deliver(_message(locale, name, _point(fields), f"INC-7:p{n}:letter:1"))
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert [len(list(f.glob("*.pdf"))) for f in folders] == [2, 1]
    assert [(f / "READY").exists() for f in folders] == [True, False]
    await ch.aclose()
    assert (folders[1] / "READY").exists()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"street": "Damrak 1", "city": "Amsterdam", "postal_code": "12", "country": "NL"},
         "postal_code is not valid for NL (e.g. 1234 AB)"),
        ({"street": "1 Main St", "region": "CA", "postal_code": "94043", "country": "US"},
         "city is required for US"),
        ({"street": "Main St 1", "city": "Nowhere", "country": "XX"},
         "country: XX is not a known country"),
        ({"city": "Berlin", "postal_code": "10117", "country": "DE"},
         "street_address is required for DE"),
    ],
)  # fmt: skip
async def test_an_address_that_does_not_validate_is_refused_with_the_reason(
    fields: dict[str, str], reason: str, channel: LetterChannel
) -> None:
    point = _point(fields)
    assert check_letter(point) == reason
    with pytest.raises(RecipientRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await channel.deliver(_message("en", "X", point, "INC-7:bad:letter:1"))


def test_a_lowercase_dutch_postcode_is_accepted() -> None:
    fields = {"street": "Damrak 1", "city": "Amsterdam", "postal_code": "1012 lg", "country": "NL"}
    assert check_letter(_point(fields)) is None


async def test_a_drop_folder_that_cannot_be_written_is_a_channel_fault(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    ch = LetterChannel(drop_folder=blocker / "letters")
    locale, name, fields, _, _ = PEOPLE["de"]
    with pytest.raises(ChannelFault, match="drop folder not writable"):
        await ch.deliver(_message(locale, name, _point(fields), "INC-7:de:letter:1"))


async def test_cjk_text_without_a_cjk_font_is_a_channel_fault_not_a_verdict(
    tmp_path: Path,
) -> None:
    ch = LetterChannel(drop_folder=tmp_path, cjk_font=str(tmp_path / "missing.ttf"))
    locale, name, fields, _, _ = PEOPLE["jp"]
    with pytest.raises(ChannelFault, match="no font has glyphs"):
        await ch.deliver(_message(locale, name, _point(fields), "INC-7:jp:letter:1"))
    assert not list(tmp_path.glob("*/*.pdf"))
