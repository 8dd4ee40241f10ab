"""The public notice site: rendered per locale, published as versions with hashes, accessible,
and readable in a real browser without JavaScript."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels.announcement import AnnouncementChannel, FolderPublisher
from channels.base import RenderedMessage
from incident.adapters.db import create_schema, make_engine
from incident.adapters.tables import AuditEvent, Incident, Person
from incident.domain.model import idempotency_key
from incident.rendering import Renderer
from incident.service.compose import Delivery
from incident.service.publication import PublicationComposer
from incident.service.substitute import public_notice
from incident.settings import templates_dir
from tests.integration.test_substitute_public_notice import NOW, stored_incident

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture()
def db(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    create_schema(eng)
    yield eng
    eng.dispose()


def composer(engine: Engine) -> PublicationComposer:
    renderer = Renderer(
        templates_dir(), required_parts={"announcement": ("subject", "text", "html")}
    )
    renderer.check(["announcement"])
    return PublicationComposer(
        renderer, message_domain="example.org", message_key=b"test-message-key", engine=engine
    )


def public_delivery(engine: Engine, incident_id: str) -> Delivery:
    with Session(engine, expire_on_commit=False) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        notice = public_notice(session, incident)
        assert notice is not None and notice.id is not None
    stand_in = Person(id="public", name="", country="ZZ")
    key = idempotency_key(incident_id, "public", "announcement", 1, "public")
    return Delivery(
        key, notice.id, "announcement", incident, stand_in, stand_in, tuple(incident.categories),
        addressee_kind="public",
    )  # fmt: skip


def with_key(msg: RenderedMessage, key: str) -> RenderedMessage:
    fields = {f: getattr(msg, f) for f in msg.__slots__}  # type: ignore[attr-defined]
    return RenderedMessage(**{**fields, "idempotency_key": key})


@pytest.fixture()
def site(db: Engine, tmp_path: Path) -> tuple[Engine, str, Path, RenderedMessage]:
    incident_id = stored_incident(db, 3, prefix="w", flags={"disproportionate_effort": True})
    return (
        db,
        incident_id,
        tmp_path / "public",
        composer(db).message(public_delivery(db, incident_id)),
    )


class Outline(HTMLParser):
    """The page's html lang, headings in order and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings: list[int] = []
        self.scripts = 0
        self.hreflangs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        elif len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))
        elif tag == "script":
            self.scripts += 1
        elif tag == "a" and found.get("hreflang") and found.get("lang"):
            self.hreflangs.append(str(found["hreflang"]))


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


async def test_published_twice_keeps_both_versions_with_their_hashes(site: tuple) -> None:  # type: ignore[type-arg]
    """v1 and v2 both stay, each file's sha256 in the manifest; a resend adds nothing."""
    engine, incident_id, root, msg = site
    channel = AnnouncementChannel(publisher=FolderPublisher(root))
    first = await channel.deliver(msg)
    with Session(engine) as session:
        text = {"en": "The attacker's access was closed.", "nl": "De toegang is afgesloten."}
        session.add(
            AuditEvent(incident_id=incident_id, kind="public_update", at=NOW, detail={"text": text})
        )
        session.commit()
    update = composer(engine).message(public_delivery(engine, incident_id))
    second = await channel.deliver(with_key(update, msg.idempotency_key + ":u1"))
    again = await channel.deliver(msg)  # a resend after a crash
    folder = root / "notices" / incident_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [v["version"] for v in manifest["versions"]] == [1, 2]
    assert manifest["latest"] == 2
    assert again.provider_id == first.provider_id != second.provider_id
    for version in manifest["versions"]:
        for name, digest in version["files"].items():
            data = (folder / f"v{version['version']}" / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest
    v1, v2 = ((folder / f"v{n}" / "en" / "index.html").read_text() for n in (1, 2))
    assert "closed" not in v1 and "The attacker&#39;s access was closed." in v2
    assert (folder / "en" / "index.html").read_text() == v2  # the latest copy
    assert set(manifest["versions"][0]["files"]) >= {"en/index.html", "zh/feed.atom", "notice.json"}


def test_each_page_is_accessible_without_javascript(site: tuple) -> None:  # type: ignore[type-arg]
    """Every locale: lang attribute, one h1, headings never skip a level, no script."""
    _, _, _, msg = site
    pages = {
        name.split("/")[0]: html for name, html in msg.parts.items() if name.endswith("/index.html")
    }
    assert set(pages) == {"en", "nl", "de", "fr", "es", "pt", "zh", "ja"}
    for locale, html in pages.items():
        page = outline(html)
        assert page.lang == locale, locale
        assert page.headings.count(1) == 1 and page.headings[0] == 1, locale
        assert all(b - a <= 1 for a, b in zip(page.headings, page.headings[1:], strict=False))
        assert page.scripts == 0
        assert set(page.hreflangs) == set(pages)
    document = json.loads(msg.parts["notice.json"])
    assert document["categories"] == ["contact", "credentials"]
    assert msg.parts["en/feed.atom"].startswith('<?xml version="1.0" encoding="utf-8"?>')


@pytest.fixture()
def web_server(tmp_path: Path) -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "public"))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.chromium
async def test_the_page_renders_in_chromium_without_javascript(
    site: tuple, web_server: str
) -> None:  # type: ignore[type-arg]
    """Loaded from a loopback server in headless Chromium with JavaScript off: the notice's
    heading and sections show, and the language links lead to the other locale's page."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing: .ci/run installs it")
        pytest.skip("/usr/bin/chromium not installed (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    _, incident_id, root, msg = site
    await AnnouncementChannel(publisher=FolderPublisher(root)).deliver(msg)
    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    ]  # fmt: skip
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = await browser.new_context(java_script_enabled=False)
            page = await context.new_page()
            response = await page.goto(f"{web_server}/notices/{incident_id}/en/")
            assert response is not None and response.status == 200
            assert await page.get_attribute("html", "lang") == "en"
            assert await page.locator("h1").count() == 1
            assert await page.locator("h1").is_visible()
            assert await page.locator("main h2").count() >= 5
            await page.click("a[hreflang=nl]")
            assert page.url.endswith(f"/notices/{incident_id}/nl/")
            assert await page.get_attribute("html", "lang") == "nl"
        finally:
            await browser.close()
