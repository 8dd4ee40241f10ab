"""Turn stored rows into the RenderedMessage a channel sends: context, locale, contact point."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from channels.base import RenderedMessage
from incident.adapters.tables import Incident, Person
from incident.rendering import NoticeContext, Renderer

TEMPLATE = "notice"


def pick_text(texts: dict[str, str], locale: str) -> str:
    """The incident's own text in the person's locale, its language, or English."""
    return texts.get(locale) or texts.get(locale.split("_")[0]) or texts.get("en", "")


def message_id_for(key: str, domain: str) -> str:
    """Stable per idempotency key: a resend after a crash carries the same Message-ID."""
    return f"{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}"


def contact_point(channel_contact_kind: str, person: Person) -> str | None:
    if channel_contact_kind == "email":
        return person.email
    if channel_contact_kind == "phone":
        return person.phone
    if channel_contact_kind == "postal_address":
        return "\n".join(person.postal_address.values()) or None
    return None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notice to send: who it concerns, who receives it, and over which channel."""

    key: str
    notice_id: int
    channel: str
    incident: Incident
    recipient: Person
    subject: Person  # the affected person (differs from recipient for a minor's guardian)
    categories: tuple[str, ...]


class Composer:
    def __init__(self, renderer: Renderer, *, message_domain: str) -> None:
        self._renderer = renderer
        self.message_domain = message_domain

    def context(self, d: Delivery) -> NoticeContext:
        locale = d.recipient.locale or "en"
        inc = d.incident
        return NoticeContext(
            recipient_name=d.recipient.name,
            subject_name=d.subject.name if d.subject.id != d.recipient.id else None,
            locale=locale,
            incident_ref=inc.id,
            title=inc.title,
            description=pick_text(inc.description, locale),
            impact=pick_text(inc.impact, locale),
            measures_taken=pick_text(inc.measures_taken, locale),
            measures_planned=pick_text(inc.measures_planned, locale),
            advice=pick_text(inc.advice, locale),
            remedies=pick_text(inc.remedies, locale),
            categories=d.categories,
            aware_at=inc.aware_at,
            occurred_at=inc.occurred_at,
            contact_email=inc.contact.get("email"),
            contact_phone=inc.contact.get("phone"),
            contact_url=inc.contact.get("url"),
        )

    def message(self, d: Delivery, *, recipient: str) -> RenderedMessage:
        ctx = self.context(d)
        parts = self._renderer.render(d.channel, TEMPLATE, ctx.locale, ctx)
        return RenderedMessage(
            recipient=recipient,
            locale=parts.locale,
            subject=parts.subject,
            body_text=parts.text,
            body_html=parts.html,
            idempotency_key=d.key,
            message_id=message_id_for(d.key, self.message_domain),
            headers={"X-Incident-Ref": d.incident.id},
        )
