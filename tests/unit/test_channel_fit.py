"""Channel fit in every locale, with long names and long incident texts: SMS within its
segment budget, calls in the locale's voice, letters in the window and cleanly paginated,
push within the platforms' limits, email text and HTML saying the same."""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from channels.base import RenderedMessage
from channels.push import PushChannel
from channels.sms import fit, measure
from channels.voice import VoiceChannel, VoiceSettings, voice_for
from incident.adapters.tables import Incident, Person
from incident.domain.content import SECTIONS
from incident.entrypoints.cli_preview import sendable
from incident.service.compose import Delivery
from tests.golden import render

LOCALES = render.LOCALES
_REPEAT = 6  # each section six times as long as the fixture's: several pages of letter


LONG_ID = "INC-2026-0043"  # its own id: the Composer caches renders by incident id


def _long_incident() -> Incident:
    row = render.incident().model_copy(update={"id": LONG_ID})
    for name in SECTIONS:
        texts = getattr(render.incident(), name)
        setattr(row, name, {loc: "\n\n".join([t] * _REPEAT) for loc, t in texts.items()})
    return row


LONG = _long_incident()


def _message(channel: str, locale: str, jurisdiction: str = "NL", guardian: bool = False
             ) -> RenderedMessage:  # fmt: skip
    person = render.reader(jurisdiction, locale)
    child = Person(id="child", name=render.NAMES[locale], locale=locale, country=person.country,
                   region=person.region)  # fmt: skip
    contact = render.postal(jurisdiction) if channel == "letter" else None
    d = Delivery(f"X:{person.id}:{channel}:1", 1, channel, LONG, person,
                 child if guardian else person, tuple(LONG.categories), contact,
                 jurisdiction=jurisdiction)  # fmt: skip
    return render.composer().message(d)


@pytest.mark.parametrize("guardian", [False, True])
@pytest.mark.parametrize("locale", LOCALES)
def test_sms_stays_within_three_segments_and_keeps_reference_and_link(
    locale: str, guardian: bool
) -> None:
    body = sendable("sms", _message("sms", locale, guardian=guardian))["txt"].decode().rstrip()
    assert measure(body).count <= 3
    assert body.endswith("https://example.org/security/incident")
    assert LONG_ID in body
    for line in body.split("\n\n")[0].split("\n")[1:]:  # no stub such as "On 18 November…"
        assert len(line) >= 20, line


def test_a_stub_of_a_line_is_left_out_whole() -> None:
    tail = "Referência: INC-1\nAviso completo: https://example.org/n"
    text = "Aviso de segurança: um incidente envolveu seus dados pessoais.\n" + (
        "Em 18 de novembro, um invasor usou um token de administrador roubado. " * 3
    )
    body = fit(f"{text}\n\n{tail}", 3)
    assert measure(body).count <= 3
    assert "Em 18 de novembro…" not in body and body.endswith(tail)


def test_a_gsm7_prefix_of_a_ucs2_text_does_not_mislead_the_budget() -> None:
    """Spanish `ó` makes the text UCS-2; the longest fitting cut is found all the same."""
    lead = "Aviso: un incidente de seguridad.\nEl 18 de noviembre, un atacante utilizó " * 4
    body = fit(f"{lead}\n\nReferencia: INC-1 https://example.org/n", 2)
    assert measure(body).count <= 2 and body.endswith("https://example.org/n")


@pytest.mark.parametrize("locale", LOCALES)
def test_the_call_is_in_the_locale_s_voice_and_speaks_the_site_not_a_url(locale: str) -> None:
    msg = _message("voice", locale)
    twiml = VoiceChannel(VoiceSettings(confirm_url="https://example.org/confirm")).twiml(msg)
    assert len(twiml) <= VoiceChannel.max_twiml_chars
    language, voice = voice_for(locale)
    says = re.findall(r'<Say language="([^"]+)" voice="([^"]+)">([^<]*)</Say>', twiml)
    assert says and all((lang, v) == (language, voice) for lang, v, _ in says)
    spoken = " ".join(text for _, _, text in says)
    assert "example.org" in spoken and "https://" not in spoken and "/security" not in spoken
    assert "I N C, 2 0 2 6, 0 0 4 3" in spoken  # the reference, character by character
    assert render.NAMES[locale] not in spoken  # a call may reach someone else first


def test_each_locale_has_its_own_voice() -> None:
    assert len({voice_for(loc) for loc in LOCALES}) == len(LOCALES)
    assert voice_for("pt_PT")[0] == "pt-PT" and voice_for("pt_BR")[0] == "pt-BR"


@pytest.mark.parametrize("guardian", [False, True])
@pytest.mark.parametrize("locale", LOCALES)
def test_push_respects_the_platforms_limits(locale: str, guardian: bool) -> None:
    note = json.loads(sendable("push", _message("push", locale, guardian=guardian))["json"])
    assert len(note["title"]) <= PushChannel.max_title_chars
    assert len(note["body"]) <= PushChannel.max_body_chars
    compact = json.dumps(note, ensure_ascii=False, separators=(",", ":")).encode()
    assert len(compact) <= PushChannel.max_payload_bytes
    if len(note["title"]) == PushChannel.max_title_chars:
        assert note["title"].endswith("…")


def _pages(pdf: bytes) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.pdf"
        path.write_bytes(pdf)
        out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    return [p for p in out.split("\f") if p.strip()]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils")
@pytest.mark.parametrize("jurisdiction", ["NL", "US-NY", "JP"])
@pytest.mark.parametrize("locale", LOCALES)
def test_a_long_letter_paginates_cleanly(locale: str, jurisdiction: str) -> None:
    """Every page numbered "n of N"; no heading is the last line of a page; the long name is
    in the window on page one only."""
    msg = _message("letter", locale, jurisdiction)
    pages = _pages(sendable("letter", msg, clock=lambda: render.NOW)["pdf"])
    assert len(pages) >= 2
    s = render.composer()._renderer.wording(locale)
    headings = {"".join(str(s[k]).split()) for k in ("h_happened", "h_done", "h_you", "h_offer",
                                                     "h_contact")}  # fmt: skip
    for number, page in enumerate(pages, 1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        footer = lines[-1]
        assert str(number) in footer and str(len(pages)) in footer
        last = "".join(lines[-2].split()).lstrip("0123456789.")
        assert last not in headings, f"page {number} ends with a heading"
    assert "".join(render.NAMES[locale].split()) in "".join(pages[0].split())


def _visible(html: str) -> str:
    html = re.sub(r"<(head|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("jurisdiction", ["NL", "US-CA", "US-MA"])
@pytest.mark.parametrize("locale", LOCALES)
def test_the_email_text_part_says_what_the_html_part_says(locale: str, jurisdiction: str) -> None:
    files = sendable("email", _message("email", locale, jurisdiction))
    text = "".join(files["txt"].decode().split())
    html = files["html"].decode()
    words = [w for w in _visible(html).split() if len(w) > 3]
    missing = [w for w in words if w not in text]
    assert not missing, missing[:10]
    assert 'style="' in html and "<style" not in html.split("</head>")[1]  # inline styles


@pytest.mark.parametrize("guardian", [False, True])
def test_the_html_email_lays_out_with_tables_for_outlook(guardian: bool) -> None:
    """Presentation tables, not styled divs, carry the layout; a fixed-width column for
    Outlook; no images, no stylesheet."""
    html = sendable("email", _message("email", "en", guardian=guardian))["html"].decode()
    assert '<table role="presentation"' in html
    assert '<!--[if mso]><table role="presentation" width="640"' in html
    assert not re.findall(r'<div[^>]*style="', html)  # no div lays anything out
    assert "<img" not in html and "<link" not in html and "<style" not in html
    assert html.count("<table") == html.count("</table>")
    assert html.count("<tr") == html.count("</tr>") and html.count("<td") == html.count("</td>")
