"""SMS over Twilio (the official SDK's async client, one pooled aiohttp session per channel).

The body is the person's-language text the `sms` layout renders, budgeted in segments: GSM-7
160 characters (153 per part of a longer message, extension characters such as `€` count two),
or UCS-2 70 (67) code units as soon as one character is outside GSM-7. A body over
`max_segments` keeps its last paragraph whole (the incident reference and the link to the full
notice) and shortens the text before it at a word boundary.

No idempotency key exists for Twilio Messages: see channels/twilio_client.py for what the
notice's key does instead (StatusCallback `?key=`) and the duplicate window that remains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from channels import twilio_client as tw
from channels.base import (
    BuildContext,
    ChannelSpec,
    ContactKind,
    Receipt,
    RenderedMessage,
)
from channels.errors import RecipientRejected

_NAME = "sms"
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")  # an escape character first: two septets each
_BLANK_RUNS = re.compile(r"\n{3,}")
_STUB = 40  # a line cut shorter than this is left out whole


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "GSM-7" | "UCS-2"
    count: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def measure(text: str, *, gsm: bool | None = None) -> Segments:
    """How many segments `text` costs. A character is never split across two segments.
    `gsm=False` prices it as UCS-2 whatever it holds (an upper bound for its prefixes)."""
    gsm = is_gsm7(text) if gsm is None else gsm and is_gsm7(text)
    if gsm:
        costs = [2 if c in GSM7_EXTENDED else 1 for c in text]
        single, part = 160, 153
    else:
        costs = [len(c.encode("utf-16-le")) // 2 for c in text]
        single, part = 70, 67
    units = sum(costs)
    encoding = "GSM-7" if gsm else "UCS-2"
    if units <= single:
        return Segments(encoding, 1, units)
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:
            count, used = count + 1, 0
        used += cost
    return Segments(encoding, count, units)


def fit(text: str, max_segments: int) -> str:
    """`text` within `max_segments`: its last paragraph (reference and link) kept whole, the
    text before it shortened at a word boundary with an ellipsis, or left out entirely. A line
    of which only a stub would remain (fewer than `_STUB` characters, e.g. "On 18 November…")
    is left out whole instead."""
    text = _BLANK_RUNS.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()
    if measure(text).count <= max_segments:
        return text
    lead, _, tail = text.rpartition("\n\n")

    def candidate(n: int, dots: bool = True) -> str:
        cut = lead[:n].rstrip(" ,;:-–—、，。\n")
        if not cut:
            return tail
        mark = ("..." if is_gsm7(cut + tail) else "…") if dots else ""
        return f"{cut}{mark}\n\n{tail}"

    # The longest prefix that fits. Priced as UCS-2 when the whole text is, so the cost only
    # grows with n: a prefix that happens to be GSM-7 (cheaper) cannot mislead the search.
    gsm = is_gsm7(text)
    low, high = 0, len(lead)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(candidate(mid), gsm=gsm).count <= max_segments:
            low = mid
        else:
            high = mid - 1
    n = low
    if 0 < n < len(lead) and not lead[n].isspace():  # mid-word: back off to the last space
        space = max(lead.rfind(" ", 0, n), lead.rfind("\n", 0, n))
        if space >= 0 and space > n - 25:
            n = space
    line_start = lead.rfind("\n", 0, n) + 1
    if line_start > 0 and n < len(lead) and lead[n] != "\n" and n - line_start < _STUB:
        return candidate(line_start, dots=False)  # the line's stub says nothing: drop it
    return candidate(n)


class SmsSettings(tw.TwilioSettings):
    """`[channels.sms]`: a Twilio number (`from_number`) or a Messaging Service SID."""

    from_number: str | None = None
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    max_segments: int = Field(default=3, ge=1, le=10)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.account_sid and not self.auth_token:
            raise ValueError("auth_token is required with account_sid")
        if self.account_sid and not (self.from_number or self.messaging_service_sid):
            raise ValueError("from_number or messaging_service_sid is required")
        if self.notice_url_template:
            tw.notice_url(self.notice_url_template, "INC-1")  # KeyError/ValueError: refused
        return self


class SmsChannel(tw.TwilioChannel):
    name = _NAME
    contact_kind = ContactKind.PHONE

    settings: SmsSettings

    def body_for(self, msg: RenderedMessage) -> str:
        ref = tw.incident_ref(msg.headers, msg.idempotency_key)
        text = tw.fill_notice_url(
            msg.body_text, tw.notice_url(self.settings.notice_url_template, ref)
        )
        return fit(text, self.settings.max_segments)

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        country = msg.contact.country if msg.contact is not None else None
        try:
            to = tw.e164(msg.recipient, country)
        except ValueError as exc:
            raise RecipientRejected(_NAME, f"invalid number: {exc}") from exc
        body = self.body_for(msg)
        callback = self.settings.status_callback_url
        params: dict[str, object] = {"to": to, "body": body}
        if callback:
            params["status_callback"] = tw.with_query(callback, key=msg.idempotency_key)
        if self.settings.messaging_service_sid:
            params["messaging_service_sid"] = self.settings.messaging_service_sid
        if self.settings.from_number:
            params["from_"] = self.settings.from_number
        if self.settings.capture_dir:
            provider_id = self._capture(msg, params)
        else:
            with tw.mapped_errors(_NAME, to):
                sent = await self._sdk().messages.create_async(**params)
            provider_id = str(sent.sid)
        return Receipt(_NAME, msg.idempotency_key, provider_id, datetime.now(UTC))

    def _capture(self, msg: RenderedMessage, params: dict[str, object]) -> str:
        size = measure(str(params["body"]))
        record = {
            "channel": _NAME,
            "idempotency_key": msg.idempotency_key,
            "message_id": msg.message_id,
            "locale": msg.locale,
            **{k.rstrip("_"): v for k, v in params.items()},
            "encoding": size.encoding,
            "segments": size.count,
            "captured_at": datetime.now(UTC).isoformat(),
        }
        path = tw.write_capture(Path(str(self.settings.capture_dir)), msg.idempotency_key, record)
        return f"capture:{path.stem}"


def build_sms(settings: SmsSettings, ctx: BuildContext) -> SmsChannel:
    return SmsChannel(settings)


SPEC = ChannelSpec(
    name=_NAME,
    settings_model=SmsSettings,
    factory=build_sms,
    contact_kinds=(ContactKind.PHONE,),
    template_parts=("text",),
    check=tw.phone_problem,
    embedded=tw.capture_into("sms"),  # no account: JSON files
    needs_provider=tw.needs_provider,
)
