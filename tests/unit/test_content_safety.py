"""Incident text is data in every channel: HTML, script and template syntax stay inert, no
tracking pixels, and notices link only to the organisation's own notice page."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from urllib.parse import urlsplit

import pytest

from incident.adapters.tables import Person
from incident.domain.content import SECTIONS, defang, localise
from incident.entrypoints.cli_preview import sendable
from incident.service.compose import Delivery
from tests.golden import render

HOSTILE = (
    "<script>alert(1)</script> {{ 7*191 }} {% raw %}x{% endraw %} {{ s.__class__ }} "
    "<img src=x onerror=alert(2)> See https://evil.example.net/login and bit.ly/2xYz."
)
HOSTILE_NAME = '<b onmouseover="alert(3)">Zoë</b> {{ 1111*3 }}'
CHANNELS = ("email", "sms", "voice", "push", "letter", "announcement")
LOCALES = ("en", "nl", "ja")
_URL = re.compile(r"https?://[^\s\"'<>)]+")
# A real element or attribute an attacker would want (escaped text never matches).
_TAG = re.compile(r"<\s*(?:script|img|iframe|object|embed)\b|<[^>]*\son\w+\s*=", re.IGNORECASE)


@pytest.fixture(scope="module")
def hostile() -> object:
    row = render.incident().model_copy(update={"id": "INC-HOSTILE"})  # renders are cached by id
    for name in SECTIONS:
        setattr(row, name, {loc: HOSTILE for loc in render.LOCALES})
    return row


def _files(hostile: object, channel: str, locale: str) -> dict[str, str]:
    if channel == "letter" and shutil.which("pdftotext") is None:
        pytest.skip("pdftotext renders the letters")
    person = Person(id="p", name=HOSTILE_NAME, locale=locale, country="NL")
    contact = render.postal("NL") if channel == "letter" else None
    d = Delivery(f"X:p:{channel}:1", 1, channel, hostile, person, person,  # type: ignore[arg-type]
                 ("contact",), contact, jurisdiction="NL")  # fmt: skip
    c = render.composer()
    if channel == "announcement":
        stand_in = Person(id="public", name="", locale=locale, country="ZZ")
        d = dataclasses.replace(d, recipient=stand_in, subject=stand_in, jurisdiction=None)
        ctx = c.context(d).as_dict() | {"updates": [], "version": 1, "languages": [],
                                        "published_at": render.NOW}  # fmt: skip
        parts = c._renderer.render("announcement", "notice", locale, ctx)
        return {"html": parts.html or ""}
    files = sendable(channel, c.message(d), clock=lambda: render.NOW)
    if channel == "letter":
        return {"txt": render.pdf_text(files["pdf"]).decode()}
    return {ext: data.decode() for ext, data in files.items()}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_hostile_incident_text_is_inert_in_every_channel(
    hostile: object, channel: str, locale: str
) -> None:
    """Escaped in HTML, literal in text, never evaluated; foreign links made inert."""
    files = _files(hostile, channel, locale)
    for ext, text in files.items():
        compact = "".join(text.split())
        assert {urlsplit(u).hostname for u in _URL.findall(text)} <= {"example.org"}
        assert "evil.example.net" not in text and "bit.ly" not in text
        assert "1337" not in compact and "3333" not in compact  # no template was evaluated
        if ext == "html":
            assert not _TAG.search(text), _TAG.search(text)
            assert "{{ 7*191 }}" in text and "{% raw %}x{% endraw %}" in text
        elif ext == "json":
            assert "script" not in text  # no incident text on a lock screen
        elif channel in ("email", "letter", "sms"):
            assert "{{7*191}}" in compact  # literal: the text says what the incident says
            if channel != "sms":  # an SMS may have cut the description short
                assert "<script>alert(1)</script>" in compact and "{%raw%}x{%endraw%}" in compact


@pytest.mark.parametrize("channel", ("email", "announcement"))
def test_hostile_text_is_escaped_not_dropped_in_html(hostile: object, channel: str) -> None:
    """The reader still sees what the incident says, as text."""
    html = _files(hostile, channel, "en")["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "evil[.]example[.]net/login" in html and "bit[.]ly/2xYz." in html


def test_a_hostile_name_is_escaped_in_html_and_literal_in_text(hostile: object) -> None:
    files = _files(hostile, "email", "en")
    assert "&lt;b onmouseover=" in files["html"] and "{{ 1111*3 }}" in files["html"]
    assert HOSTILE_NAME in files["txt"] and "3333" not in files["txt"]


def test_no_email_carries_an_image_or_a_link_elsewhere() -> None:
    """No tracking pixel, no third-party link shortener: in golden emails of every place each
    link goes to the organisation's notice page, its mailbox or its phone."""
    for path in (render.OUT / "email").rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert "<img" not in html.lower() and "url(" not in html.lower(), path
        for href in re.findall(r'href="([^"]*)"', html):
            if not href.startswith(("mailto:", "tel:")):
                assert urlsplit(href).hostname == "example.org", (path, href)


def test_push_payloads_carry_no_incident_text(hostile: object) -> None:
    note = json.loads(_files(hostile, "push", "en")["json"])
    assert set(note) == {"title", "body", "url", "lang", "tag"}
    assert urlsplit(note["url"]).hostname == "example.org"


@pytest.mark.parametrize(
    ("text", "inert"),
    [
        ("Log in at https://evil.example.net/x.", "Log in at evil[.]example[.]net/x."),
        ("Shortened: bit.ly/2xYz", "Shortened: bit[.]ly/2xYz"),
        ("www.evil.com", "www[.]evil[.]com"),
        (
            "Read https://example.org/notice and sub.example.org/a",
            "Read https://example.org/notice and sub.example.org/a",
        ),
        ("https://example.org.evil.net/", "example[.]org[.]evil[.]net/"),
        ("Write to privacy@example.org.", "Write to privacy@example.org."),
    ],
)
def test_only_links_to_the_organisation_s_own_site_stay_links(text: str, inert: str) -> None:
    assert defang(text, "example.org") == inert


def test_localise_applies_to_every_section(hostile: object) -> None:
    texts, _ = localise(hostile, "nl")  # type: ignore[arg-type]
    assert all("evil[.]example[.]net" in t for t in texts.values() if t)
