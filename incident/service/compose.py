"""Turn stored rows into the RenderedMessage a channel sends: context, locale, contact point."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from markupsafe import escape

from channels.base import ContactPointData, RenderedMessage
from incident.adapters.tables import Incident, Person
from incident.domain.content import (
    BLOCKING,
    ContentCheckFailed,
    ContentProblem,
    NoticeFormat,
    NoticeFormats,
    check_notice_content,
    load_formats,
    localise,
    pick,
    require_sections,
)
from incident.domain.timezones import zone_name
from incident.rendering import NoticeContext, RenderedParts, Renderer
from incident.service.keyed_ids import message_id_for as keyed_message_id

TEMPLATE = "notice"
RESPONSE_DAYS = 7  # the privacy policy: questions are answered within 7 working days


def pick_text(texts: dict[str, str], locale: str) -> str:
    """The incident's own text in the person's locale, its language, or English."""
    return pick(texts, locale)[0]


def message_id_for(key: str, domain: str, message_key: bytes) -> str:
    """Stable per idempotency key (a resend after a crash carries the same Message-ID) and
    keyed: nobody without the secret can name a delivery in a forged bounce (keyed_ids)."""
    return keyed_message_id(key, domain, message_key)


def _personalise(
    parts: RenderedParts,
    name: str,
    child: str,
    accounts: tuple[str, ...],
    confirm_url: str = "",
) -> RenderedParts:
    listed = ", ".join(accounts)

    def fill(text: str, html: bool) -> str:
        if html:
            text = text.replace(NAME_SLOT, escape(name)).replace(CHILD_SLOT, escape(child))
            text = text.replace(CONFIRM_SLOT, escape(confirm_url)) if confirm_url else text
            return text.replace(ACCOUNTS_SLOT, escape(listed)) if listed else text
        text = text.replace(NAME_SLOT, name).replace(CHILD_SLOT, child)
        text = text.replace(CONFIRM_SLOT, confirm_url) if confirm_url else text
        return text.replace(ACCOUNTS_SLOT, listed) if listed else text

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
    accounts: tuple[str, ...] = ()  # the person's affected accounts, as the directory names them


# Names and accounts are the only per-person text in a notice. Everything else depends on the
# incident, the locale, the categories, the notice format and the time zone, so a notice is
# rendered once per such combination with these slots, and each person's copy is a string
# replacement (escaped for HTML): ~100x cheaper than Jinja.
@lru_cache(maxsize=1)
def _citations() -> dict[str, str]:
    """Rule id -> its citation, for content-check failures."""
    from incident.obligations import load_rules

    return {r.id: f"{r.id}: {r.citation.article}" for r in load_rules().rules}


NAME_SLOT = "QQbnRecipientNameQQ"
CHILD_SLOT = "QQbnSubjectNameQQ"
ACCOUNTS_SLOT = "QQbnAccountsQQ"
# The personal confirmation link (incident.service.confirmation), per delivery key.
CONFIRM_SLOT = "QQbnConfirmUrlQQ"


class Composer:
    def __init__(
        self,
        renderer: Renderer,
        *,
        message_domain: str,
        message_key: bytes,
        cache_size: int = 512,
        formats: NoticeFormats | None = None,
        confirm_link: Callable[[str], str] | None = None,
        enforce_content: bool = True,
    ) -> None:
        """`message_key`: keys the Message-IDs (keyed_ids.message_key_of the secret).
        `confirm_link`: the personal confirmation link of a delivery key (None: no link).
        `enforce_content`: refuse notices failing the content check (off for previews, which
        show the notice and list the problems instead)."""
        self._renderer = renderer
        self._enforce_content = enforce_content
        self._confirm_link = confirm_link
        self.message_domain = message_domain
        self._message_key = message_key
        self._cache: OrderedDict[tuple[object, ...], RenderedParts] = OrderedDict()
        self._cache_size = cache_size
        self.formats = formats or load_formats()
        self.formats.check_wording(vars(renderer.wording(renderer.default_locale)))
        self._format_of: dict[str | None, NoticeFormat] = {}
        self._checked: dict[tuple[str, int, str | None, str], list[ContentProblem]] = {}

    def notice_format(self, jurisdiction: str | None) -> NoticeFormat:
        """The reader's notice format by jurisdiction (memoised: on the per-person path)."""
        fmt = self._format_of.get(jurisdiction)
        if fmt is None:
            if len(self._format_of) > 4096:  # jurisdictions come from data: bound the memo
                self._format_of.clear()
            fmt = self._format_of[jurisdiction] = self.formats.for_jurisdiction(jurisdiction)
        return fmt

    def context(self, d: Delivery, *, personal: bool = True) -> NoticeContext:
        """The render context; `personal=False` leaves name slots for `_personalise`.

        Raises MissingSection (naming the section and locale) when a section the reader's
        notice format requires is empty in their locale and in English."""
        locale = d.recipient.locale or "en"
        inc = d.incident
        child = d.subject.id != d.recipient.id
        fmt = self.notice_format(d.jurisdiction)
        texts, fallbacks = localise(inc, locale)
        require_sections(fmt, texts, locale, d.jurisdiction)
        contact = inc.contact or {}
        accounts = (d.accounts if personal else (ACCOUNTS_SLOT,)) if d.accounts else ()
        return NoticeContext(
            recipient_name=d.recipient.name if personal else NAME_SLOT,
            subject_name=(d.subject.name if personal else CHILD_SLOT) if child else None,
            locale=locale,
            incident_ref=inc.id,
            title=inc.title,
            description=texts["description"],
            impact=texts["impact"],
            measures_taken=texts["measures_taken"],
            measures_planned=texts["measures_planned"],
            advice=texts["advice"],
            remedies=texts["remedies"],
            categories=d.categories,
            aware_at=inc.aware_at,
            occurred_at=inc.occurred_at,
            contact_email=contact.get("email"),
            contact_phone=contact.get("phone"),
            contact_url=contact.get("url"),
            time_zone=zone_name(d.recipient.country, d.recipient.region),
            notice_format=fmt,
            discovered_at=inc.discovered_at,
            jurisdiction=d.jurisdiction,
            fallbacks=fallbacks,
            contact_dpo=contact.get("dpo"),
            response_days=int(contact.get("response_days", RESPONSE_DAYS)),
            accounts=accounts,
            confirm_url=self._confirm_url(d.key, personal),
        )

    def message_id(self, key: str) -> str:
        """The Message-ID of the delivery `key` (the same on every resend)."""
        return message_id_for(key, self.message_domain, self._message_key)

    def _confirm_url(self, key: str, personal: bool) -> str | None:
        if self._confirm_link is None:
            return None
        return self._confirm_link(key) if personal else CONFIRM_SLOT

    def render(self, d: Delivery) -> RenderedParts:
        key = (
            d.channel,
            d.incident.id,
            d.incident.notice_version,
            d.recipient.locale,
            d.categories,
            d.subject.id != d.recipient.id,
            zone_name(d.recipient.country, d.recipient.region),  # dates are in the reader's zone
            self.notice_format(d.jurisdiction).id,  # headings and sections by jurisdiction
            not d.accounts,
        )
        parts = self._cache.get(key)
        if parts is not None:
            self._cache.move_to_end(key)  # least recently used goes first when the cache is full
        else:
            if self._enforce_content and d.addressee_kind == "person":
                self.check_content(d)
            ctx = self.context(d, personal=False)
            parts = self._renderer.render(d.channel, TEMPLATE, ctx.locale, ctx)
            self._cache[key] = parts
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        link = self._confirm_link(d.key) if self._confirm_link is not None else ""
        return _personalise(parts, d.recipient.name, d.subject.name, d.accounts, link)

    def check_content(self, d: Delivery) -> None:
        """The content check before anything is sent: once per incident version, jurisdiction
        and locale (rendering is cached the same way, so this is off the per-person path).
        Raises ContentCheckFailed naming each missing or forbidden item, rule and citation."""
        key = (d.incident.id, d.incident.notice_version, d.jurisdiction, d.recipient.locale)
        if key not in self._checked:
            found = check_notice_content(d.incident, d.jurisdiction, d.recipient.locale or "en")
            # An empty required section is reported by rendering itself, as MissingSection.
            empty = any(p.kind == "empty" for p in found)
            self._checked[key] = [] if empty else [p for p in found if p.kind in BLOCKING]
            if len(self._checked) > 4096:  # keys come from data: bound the memo
                self._checked.clear()
        if blocking := self._checked[key]:
            raise ContentCheckFailed(blocking, _citations())

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
            message_id=self.message_id(d.key),
            headers={"X-Incident-Ref": d.incident.id},
        )
