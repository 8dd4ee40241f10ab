"""Golden files: every channel x locale x jurisdiction renders exactly as committed, passes the
content check and stays within its channel's budget. Regenerate with
`python -m tests.golden.render` and review the diff like code."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from channels.push import PushChannel
from channels.sms import measure
from channels.voice import voice_for
from incident.domain.content import check_notice_content
from incident.settings import config_dir
from tests.golden import render

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) renders the letters"
)
COMBOS = list(render.combinations())
ORG_HOST = "example.org"  # the incident's contact url
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9._~:/?#@!$&*+,;=%-]+")  # ASCII URL characters
# Sites US law has a notice name (credit bureaus, the FTC: Cal. Civ. Code 1798.82(d)(2)(G),
# 815 ILCS 530/10(a), RCW 19.255.010): fixed wording of US formats, plain text, never links
# from incident text. No other host than the organisation's may appear anywhere.
STATUTORY_US = {"www.equifax.com", "www.experian.com", "www.transunion.com",
                "www.annualcreditreport.com", "www.identitytheft.gov"}  # fmt: skip


def _hosts(text: str) -> set[str]:
    found = set()
    for url in _URL.findall(text):
        url = url.rstrip(".,;:")
        found.add(str(urlsplit(url if "://" in url else "//" + url).hostname))
    return found


def _allowed(jurisdiction: str) -> set[str]:
    return {ORG_HOST} | (STATUTORY_US if jurisdiction.startswith("US") else set())


# Gaps the content check finds that this suite cannot close (none at present).
KNOWN_GAPS: set[tuple[str, str, str]] = set()


@pytest.fixture(scope="module")
def rendered() -> dict[Path, bytes]:
    return render.render_all()


def test_the_committed_files_are_exactly_the_rendered_ones(rendered: dict[Path, bytes]) -> None:
    """Byte for byte, no file missing and none left over."""
    on_disk = {p.relative_to(render.OUT) for p in render.OUT.rglob("*") if p.is_file()}
    assert on_disk == set(rendered), "run `python -m tests.golden.render` and review the diff"
    changed = [str(p) for p, data in rendered.items() if (render.OUT / p).read_bytes() != data]
    assert not changed, f"differ from the committed copy: {changed[:10]}"


def test_the_suite_stays_small(rendered: dict[Path, bytes]) -> None:
    """Reviewable: text only, no PDFs, under 3 MB."""
    assert sum(len(d) for d in rendered.values()) < 3_000_000
    assert not [p for p in rendered if p.suffix == ".pdf"]


@pytest.mark.parametrize("jurisdiction", render.JURISDICTIONS)
@pytest.mark.parametrize("locale", render.LOCALES)
def test_the_fixture_passes_the_content_check(jurisdiction: str, locale: str) -> None:
    """Required items given, forbidden ones left out, nothing in English instead."""
    problems = {
        (jurisdiction, p.kind, p.item)
        for p in check_notice_content(render.spec(), jurisdiction, locale)
        if p.kind not in ("manual", "placeholder")  # placeholder: it is the sample's text
    }
    assert problems <= KNOWN_GAPS


@pytest.mark.parametrize("locale", render.LOCALES)
def test_the_demo_incident_passes_the_content_check_in_every_locale(locale: str) -> None:
    """No empty, missing (beyond the known gaps), forbidden or unmapped item in any place."""
    from incident.adapters.documents import load_document
    from incident.domain.incident_spec import parse_incident_spec

    demo = parse_incident_spec(load_document(config_dir() / "examples" / "incident.yaml"))
    for jurisdiction in render.JURISDICTIONS:
        problems = {
            (jurisdiction, p.kind, p.item)
            for p in check_notice_content(demo, jurisdiction, locale)
            # a fallback is shown, with a note; the demo's sections are the sample's own text
            if p.kind not in ("manual", "fallback", "placeholder")
        }
        assert problems <= KNOWN_GAPS


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _text(rendered: dict[Path, bytes], channel: str, jurisdiction: str, locale: str) -> str:
    ext = {"push": "json", "announcement": "html"}.get(channel, "txt")
    return rendered[Path(channel) / jurisdiction / f"{locale}.{ext}"].decode()


@pytest.mark.parametrize(
    ("channel", "jurisdiction", "locale"),
    [pytest.param(*c, id="-".join(c)) for c in COMBOS],
)
def test_every_notice_says_what_its_format_requires_and_nothing_it_forbids(
    rendered: dict[Path, bytes], channel: str, jurisdiction: str, locale: str
) -> None:
    """Email and letter: the format's title and headings in the reader's language, the reader's
    name, the reference; a section the format leaves out is absent. Every channel links only
    to the organisation's own notice page."""
    text = _text(rendered, channel, jurisdiction, locale)
    assert _hosts(text) <= _allowed(jurisdiction)
    if channel in ("email", "letter"):
        c = render.composer()
        fmt = c.notice_format(jurisdiction)
        s = c._renderer.wording(locale)
        plain = _squeeze(text)  # lines wrap anywhere in a letter, between CJK characters too
        # A letter is titled as its format prescribes (California: "Notice of Data Breach"),
        # else with its own letter heading.
        standard = channel == "letter" and fmt.title == "notice_title"
        title = "letter_subject" if standard else fmt.title
        for key in (title, *(sec.heading for sec in fmt.sections)):
            assert _squeeze(s[key]) in plain, key
        assert _squeeze(render.NAMES[locale]) in plain and render.INCIDENT_ID in text
        for section in ("description", "impact"):
            if not fmt.renders(section):
                assert _squeeze(getattr(render.spec(), section)[locale])[:30] not in plain
        if locale != "en" or not fmt.renders("description"):  # the English incident title
            assert _squeeze(render.spec().title) not in plain
    if channel == "email":
        html = rendered[Path(channel) / jurisdiction / f"{locale}.html"].decode()
        assert "<script" not in html.lower() and "<img" not in html.lower()
        assert _hosts(html) <= _allowed(jurisdiction)


@pytest.mark.parametrize(("channel", "jurisdiction", "locale"),
                         [c for c in COMBOS if c[0] in ("sms", "voice", "push")])  # fmt: skip
def test_short_channels_stay_within_their_budgets(
    rendered: dict[Path, bytes], channel: str, jurisdiction: str, locale: str
) -> None:
    """SMS within 3 segments with reference and link; the call in the locale's voice with the
    site spoken; push title, body and payload within the platforms' limits."""
    text = _text(rendered, channel, jurisdiction, locale)
    url = render.spec().contact.url
    if channel == "sms":
        body = text.rstrip("\n")
        assert measure(body).count <= 3 and body.endswith(str(url))
        assert render.INCIDENT_ID in body
    elif channel == "voice":
        language, voice = voice_for(locale)
        says = [line for line in text.splitlines() if line.startswith("[") and "] " in line]
        assert says and all(line.startswith(f"[{language} {voice}] ") for line in says)
        assert ORG_HOST in text and "https://" not in text  # the site, not a URL, is spoken
        assert "[listening for 1 key]" in text
    else:
        note = json.loads(text)
        assert note["url"] == str(url) and note["lang"] == locale
        assert len(note["title"]) <= PushChannel.max_title_chars
        assert len(note["body"]) <= PushChannel.max_body_chars
        compact = json.dumps(note, ensure_ascii=False, separators=(",", ":")).encode()
        assert len(compact) <= PushChannel.max_payload_bytes
