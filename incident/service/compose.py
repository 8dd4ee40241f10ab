"""Turn stored rows into the RenderedMessage a channel sends: context, locale, contact point."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape

from channels.base import ContactPointData, RenderedMessage
from incident.adapters.tables import Incident, Person
from incident.domain.timezones import zone_name
from incident.rendering import NoticeContext, RenderedParts, Renderer

TEMPLATE = "notice"


def pick_text(texts: dict[str, str], locale: str) -> str:
    """The incident's own text in the person's locale, its language, or English."""
    return texts.get(locale) or texts.get(locale.split("_")[0]) or texts.get("en", "")


def message_id_for(key: str, domain: str) -> str:
    """Stable per idempotency key: a resend after a crash carries the same Message-ID."""
    return f"{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}"


def _personalise(parts: RenderedParts, name: str, child: str) -> RenderedParts:
    def fill(text: str, html: bool) -> str:
        if html:
            return text.replace(NAME_SLOT, escape(name)).replace(CHILD_SLOT, escape(child))
        return text.replace(NAME_SLOT, name).replace(CHILD_SLOT, child)

    return RenderedParts(
        subject=fill(parts.subject, False) if parts.subject is not None else None,
        text=fill(parts.text, False),
        html=fill(parts.html, True) if parts.html is not None else None,
        locale=parts.locale,
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notice to send: who it concerns, who receives it, over which channel and where.

    For the public or an authority, `recipient` and `subject` are stand-ins without contact
    details (name empty, the default locale): their channels publish or file the notice."""

    key: str
    notice_id: int
    channel: str
    incident: Incident
    recipient: Person
    subject: Person  # the affected person (differs from recipient for a minor's guardian)
    categories: tuple[str, ...]
    contact: ContactPointData | None = None
    contact_point_id: int | None = None
    addressee_kind: str = "person"
    jurisdiction: str | None = None  # its individual-notice deadline bounds the retries
    created_at: datetime | None = None  # when the notice was created: the retries' start


# Names are the only per-person text in a notice. Everything else depends on the incident, the
# locale and the categories, so a notice is rendered once per such combination with these slots,
# and each person's copy is a string replacement (escaped for HTML): ~100x cheaper than Jinja.
NAME_SLOT = "QQbnRecipientNameQQ"
CHILD_SLOT = "QQbnSubjectNameQQ"


class Composer:
    def __init__(self, renderer: Renderer, *, message_domain: str, cache_size: int = 512) -> None:
        self._renderer = renderer
        self.message_domain = message_domain
        self._cache: OrderedDict[tuple[object, ...], RenderedParts] = OrderedDict()
        self._cache_size = cache_size

    def context(self, d: Delivery, *, personal: bool = True) -> NoticeContext:
        """The render context; `personal=False` leaves name slots for `_personalise`."""
        locale = d.recipient.locale or "en"
        inc = d.incident
        child = d.subject.id != d.recipient.id
        return NoticeContext(
            recipient_name=d.recipient.name if personal else NAME_SLOT,
            subject_name=(d.subject.name if personal else CHILD_SLOT) if child else None,
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
            time_zone=zone_name(d.recipient.country, d.recipient.region),
        )

    def render(self, d: Delivery) -> RenderedParts:
        key = (
            d.channel,
            d.incident.id,
            d.incident.notice_version,
            d.recipient.locale,
            d.categories,
            d.subject.id != d.recipient.id,
            zone_name(d.recipient.country, d.recipient.region),  # dates are in the reader's zone
        )
        parts = self._cache.get(key)
        if parts is not None:
            self._cache.move_to_end(key)  # least recently used goes first when the cache is full
        else:
            ctx = self.context(d, personal=False)
            parts = self._renderer.render(d.channel, TEMPLATE, ctx.locale, ctx)
            self._cache[key] = parts
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return _personalise(parts, d.recipient.name, d.subject.name)

    def message(self, d: Delivery) -> RenderedMessage:
        parts = self.render(d)
        return RenderedMessage(
            recipient=d.contact.value if d.contact is not None else "",
            contact=d.contact,
            locale=parts.locale,
            subject=parts.subject,
            body_text=parts.text,
            body_html=parts.html,
            idempotency_key=d.key,
            message_id=message_id_for(d.key, self.message_domain),
            headers={"X-Incident-Ref": d.incident.id},
        )
