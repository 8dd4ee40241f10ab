"""What the public and the authorities are sent: the composer for their notices.

A person's notice is one rendered message. The public notice is a small site: per locale an
HTML page (the four elements, the data categories, contacts, dated updates), an Atom feed and a
plain-text copy, plus one JSON document; the announcement channel publishes these `parts`. An
authority's notice is its report (JSON, checked against its schema) with the items it still
lacks; the regulator channel files it, or refuses while items are missing.

`PublicationComposer` wraps the service's Composer: people's notices go through unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from markupsafe import escape
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.base import RenderedMessage
from incident.adapters.tables import AuditEvent, Incident, Notice, Person
from incident.domain.model import AddresseeKind
from incident.rendering import Renderer
from incident.service.compose import Composer, Delivery, pick_text
from incident.service.report_filing import blocked_reason, refresh_report, report_for_notice
from incident.settings import templates_dir

ATOM = "http://www.w3.org/2005/Atom"


def site_locales(renderer: Renderer) -> list[str]:
    """Every locale with wording: the notice page is published in each."""
    root = templates_dir() / "strings"
    found = sorted(d.name for d in root.iterdir() if d.is_dir() and any(d.glob("*.toml")))
    default = renderer.default_locale
    return [default, *[x for x in found if x != default]]


class PublicationComposer(Composer):
    def __init__(
        self,
        renderer: Renderer,
        *,
        message_domain: str,
        engine: Engine,
        locales: Sequence[str] | None = None,
        clock: Any = None,
        **composer_options: Any,
    ) -> None:
        """`composer_options` are the people's composer's own (`confirm_link`, `formats`, …):
        a person's notice goes through unchanged, personal link included."""
        super().__init__(renderer, message_domain=message_domain, **composer_options)
        self._engine = engine
        self._locales = list(locales) if locales else site_locales(renderer)
        self._clock = clock or (lambda: datetime.now(UTC))

    def message(self, d: Delivery) -> RenderedMessage:
        if d.addressee_kind == AddresseeKind.PUBLIC:
            return self.announcement(d)
        if d.addressee_kind == AddresseeKind.AUTHORITY:
            return self.report(d)
        return super().message(d)

    # ── the public notice ───────────────────────────────────────────────────────────────
    def announcement(self, d: Delivery) -> RenderedMessage:
        updates = self._updates(d.incident)
        now = self._clock()
        parts: dict[str, str] = {}
        first = None
        for locale in self._locales:
            reader = Person(id=d.recipient.id, name="", locale=locale, country="ZZ")
            local = dataclasses.replace(d, recipient=reader, subject=reader)
            ctx = self.context(local).as_dict()
            ctx |= {
                "updates": [(at, pick_text(text, locale)) for at, text in updates],
                "version": d.incident.notice_version,
                "languages": self._languages(),
                "published_at": now,
            }
            rendered = self._renderer.render(d.channel, "notice", locale, ctx)
            parts[f"{locale}/index.html"] = rendered.html or rendered.text
            parts[f"{locale}/notice.txt"] = rendered.text
            parts[f"{locale}/feed.atom"] = _atom(d.incident, locale, rendered.subject, ctx, now)
            first = first or rendered
        parts["index.html"] = self._chooser(d.incident)
        parts["notice.json"] = _document(d.incident, self._locales, updates, now)
        assert first is not None
        return RenderedMessage(
            recipient="",
            locale=first.locale,
            subject=first.subject,
            body_text=first.text,
            body_html=first.html,
            idempotency_key=d.key,
            message_id=self.message_id(d.key),
            headers={"X-Incident-Ref": d.incident.id},
            parts=parts,
        )

    def _languages(self) -> list[tuple[str, str]]:
        return [
            (loc, str(self._renderer.wording(loc).__dict__["pub_language_name"]))
            for loc in self._locales
        ]

    def _updates(self, incident: Incident) -> list[tuple[datetime, dict[str, str]]]:
        """Dated updates, oldest first: each public notice version and each recorded update."""
        with Session(self._engine) as session:
            versions = session.exec(
                select(Notice.created_at, Notice.version).where(
                    Notice.incident_id == incident.id,
                    Notice.addressee_kind == AddresseeKind.PUBLIC.value,
                )
            ).all()
            events = session.exec(
                select(AuditEvent)
                .where(AuditEvent.incident_id == incident.id, AuditEvent.kind == "public_update")
                .order_by(col(AuditEvent.at))
            ).all()
        found: list[tuple[datetime, dict[str, str]]] = []
        for at, version in versions:
            wording = {loc: self._renderer.wording(loc) for loc in self._locales}
            found.append(
                (
                    at,
                    {
                        loc: str(w.__dict__["pub_update_version"]).format(n=version)
                        for loc, w in wording.items()
                    },
                )
            )
        found += [(e.at, dict(e.detail.get("text", {}))) for e in events]
        return sorted(found, key=lambda u: u[0])

    def _chooser(self, incident: Incident) -> str:
        items = "".join(
            f'<li><a href="{loc}/" hreflang="{loc}" lang="{loc}">{escape(name)}</a></li>\n'
            for loc, name in self._languages()
        )
        title = escape(incident.title)
        return (
            f'<!DOCTYPE html>\n<html lang="{self._locales[0]}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n"
            f"<ul>\n{items}</ul>\n</main>\n</body>\n</html>\n"
        )

    # ── reports to authorities ──────────────────────────────────────────────────────────
    def report(self, d: Delivery) -> RenderedMessage:
        with Session(self._engine, expire_on_commit=False) as session:
            row = report_for_notice(session, d.notice_id)
            built = refresh_report(session, row, now=self._clock()) if row else None
            session.commit()
        if row is None or built is None:
            raise LookupError(f"no report for authority notice {d.notice_id}")
        report, ob = built
        blocked = report.missing or (("schema",) if report.schema_errors else ())
        text = self.render(d).text
        return RenderedMessage(
            recipient=ob.recipient_name,
            locale="en",
            subject=f"{row.name}: {ob.recipient_name}",
            body_text=text,
            idempotency_key=d.key,
            message_id=self.message_id(d.key),
            headers={"X-Incident-Ref": d.incident.id, "X-Blocked": blocked_reason(report) or ""},
            parts={"report.json": report.to_json(), "name": row.name, "missing": ",".join(blocked)},
        )


def _atom(
    incident: Incident, locale: str, title: str | None, ctx: dict[str, Any], now: datetime
) -> str:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": locale})
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"urn:breachnotice:{incident.id}:{locale}"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title or incident.title
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = now.isoformat()
    ET.SubElement(feed, f"{{{ATOM}}}link", {"href": "./", "rel": "alternate"})
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = incident.contact.get("url") or "Security Team"
    for i, (at, text) in enumerate(reversed(ctx["updates"])):
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        n = len(ctx["updates"]) - i
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:breachnotice:{incident.id}:{locale}:{n}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = text or incident.title
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = at.isoformat()
        ET.SubElement(entry, f"{{{ATOM}}}content", {"type": "text"}).text = ctx["description"]
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode")


def _document(
    incident: Incident,
    locales: Sequence[str],
    updates: list[tuple[datetime, dict[str, str]]],
    now: datetime,
) -> str:
    doc = {
        "incident_ref": incident.id,
        "title": incident.title,
        "version": incident.notice_version,
        "published_at": now.isoformat(),
        "aware_at": incident.aware_at.isoformat(),
        "occurred_at": incident.occurred_at.isoformat() if incident.occurred_at else None,
        "categories": list(incident.categories),
        "contact": dict(incident.contact),
        "pages": {loc: {"html": f"{loc}/", "atom": f"{loc}/feed.atom"} for loc in locales},
        "what_happened": dict(incident.description),
        "possible_impact": dict(incident.impact),
        "what_we_did": dict(incident.measures_taken),
        "what_we_will_do": dict(incident.measures_planned),
        "what_you_can_do": dict(incident.advice),
        "remedies": dict(incident.remedies),
        "updates": [{"at": at.isoformat(), "text": text} for at, text in updates],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)
