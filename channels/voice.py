"""Voice calls over Twilio: a short script read by text-to-speech in the person's language.

The call's TwiML (built with the SDK's `VoiceResponse`, which escapes the text) says the
message, says it again, and asks the person to press 1 to confirm: a `<Gather numDigits="1">`
whose action is the status-callback endpoint, where `Digits=1` becomes a `confirmed` receipt.
Call status (completed / no-answer / busy / failed) reaches the same endpoint.

The `voice` layout's paragraphs are read as: the message (all but the last three), the line
said before the repeat, the keypress prompt, the goodbye (templates/voice/_base/notice.txt).
No idempotency key exists for Twilio Calls either: see channels/twilio_client.py.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from twilio.twiml.voice_response import VoiceResponse

from channels import twilio_client as tw
from channels.base import BuildContext, ChannelSpec, ContactKind, Receipt, RenderedMessage
from channels.errors import MessageRejected, RecipientRejected

_NAME = "voice"
_PARAGRAPHS = re.compile(r"\n\s*\n")
# Locale -> (<Say language>, <Say voice>): Amazon Polly voices Twilio offers for each language.
VOICES: dict[str, tuple[str, str]] = {
    "en": ("en-US", "Polly.Joanna"),
    "en_GB": ("en-GB", "Polly.Amy"),
    "en_AU": ("en-AU", "Polly.Nicole"),
    "nl": ("nl-NL", "Polly.Lotte"),
    "de": ("de-DE", "Polly.Vicki"),
    "fr": ("fr-FR", "Polly.Mathieu"),
    "fr_CA": ("fr-CA", "Polly.Chantal"),
    "es": ("es-ES", "Polly.Conchita"),
    "es_MX": ("es-MX", "Polly.Mia"),
    "es_US": ("es-US", "Polly.Penelope"),
    "pt": ("pt-BR", "Polly.Camila"),
    "pt_PT": ("pt-PT", "Polly.Cristiano"),
    "zh": ("cmn-CN", "Polly.Zhiyu"),
    "ja": ("ja-JP", "Polly.Mizuki"),
}


def voice_for(locale: str) -> tuple[str, str]:
    """The language and voice for `locale` (`pt_PT`, then `pt`, then English)."""
    normal = locale.replace("-", "_")
    lang, _, region = normal.partition("_")
    full = f"{lang.lower()}_{region.upper()}" if region else lang.lower()
    return VOICES.get(full) or VOICES.get(lang.lower()) or VOICES["en"]


def twiml_for(script: str, *, locale: str, confirm_url: str | None, gather_seconds: int) -> str:
    """The call: the message twice, then (with a confirm URL) press 1 to confirm, goodbye."""
    paragraphs = [" ".join(p.split()) for p in _PARAGRAPHS.split(script) if p.strip()]
    if len(paragraphs) < 4:
        message, repeat, prompt, goodbye = " ".join(paragraphs), "", "", ""
    else:
        message, (repeat, prompt, goodbye) = " ".join(paragraphs[:-3]), paragraphs[-3:]
    language, voice = voice_for(locale)
    response = VoiceResponse()
    listen = (
        response.gather(num_digits=1, action=confirm_url, method="POST", timeout=gather_seconds)
        if confirm_url
        else response
    )
    for text in (message, repeat, message):
        if text:
            listen.say(text, voice=voice, language=language)
            listen.pause(length=1)
    if confirm_url and prompt:
        listen.say(prompt, voice=voice, language=language)
    if goodbye:
        response.say(goodbye, voice=voice, language=language)
    return str(response)


def spoken(twiml: str) -> str:
    """What the caller hears, as a reviewer reads it: one line per `<Say>` (voice and language
    first), `[pause]` and the keypress window marked."""
    lines: list[str] = []

    def walk(node: ET.Element) -> None:
        for child in node:
            if child.tag == "Say":
                lines.append(f"[{child.get('language')} {child.get('voice')}] {child.text or ''}")
            elif child.tag == "Pause":
                lines.append(f"[pause {child.get('length')} s]")
            elif child.tag == "Gather":
                lines.append(f"[listening for {child.get('numDigits')} key]")
                walk(child)
                lines.append("[end of listening]")

    walk(ET.fromstring(twiml))  # our own TwiML, built by VoiceResponse
    return "\n".join(lines) + "\n"


class VoiceSettings(tw.TwilioSettings):
    """`[channels.voice]`: calls from `from_number`; the keypress goes to `confirm_url`
    (default: status_callback_url)."""

    from_number: str | None = None
    confirm_url: str | None = None
    gather_seconds: int = Field(default=8, ge=1, le=60)
    ring_seconds: int = Field(default=45, ge=5, le=600)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.account_sid and not (self.auth_token and self.from_number):
            raise ValueError("auth_token and from_number are required with account_sid")
        if self.notice_url_template:
            tw.notice_url(self.notice_url_template, "INC-1")
        return self


class VoiceChannel(tw.TwilioChannel):
    name = _NAME
    contact_kind = ContactKind.PHONE
    max_twiml_chars = 4000  # Twilio's limit on the `Twiml` parameter

    settings: VoiceSettings

    def twiml(self, msg: RenderedMessage) -> str:
        s = self.settings
        ref = tw.incident_ref(msg.headers, msg.idempotency_key)
        url = tw.notice_url(s.notice_url_template, ref)
        site = url.split("//", 1)[-1].split("/", 1)[0] if url else None
        script = tw.fill_notice_url(msg.body_text, site)
        confirm = s.confirm_url or s.status_callback_url
        action = tw.with_query(confirm, key=msg.idempotency_key) if confirm else None
        return twiml_for(
            script, locale=msg.locale, confirm_url=action, gather_seconds=s.gather_seconds
        )

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        country = msg.contact.country if msg.contact is not None else None
        try:
            to = tw.e164(msg.recipient, country)
        except ValueError as exc:
            raise RecipientRejected(_NAME, f"invalid number: {exc}") from exc
        twiml = self.twiml(msg)
        if len(twiml) > self.max_twiml_chars:
            raise MessageRejected(_NAME, f"script too long: {len(twiml)} > 4000 characters")
        params: dict[str, object] = {"to": to, "from_": self.settings.from_number, "twiml": twiml}
        if self.settings.status_callback_url:
            callback = tw.with_query(self.settings.status_callback_url, key=msg.idempotency_key)
            params.update(status_callback=callback, status_callback_method="POST")
        if self.settings.capture_dir:
            fields = {k.rstrip("_"): v for k, v in params.items()}
            record = {"channel": _NAME, "idempotency_key": msg.idempotency_key, **fields}
            record["captured_at"] = datetime.now(UTC).isoformat()
            folder = Path(self.settings.capture_dir)
            provider_id = "capture:" + tw.write_capture(folder, msg.idempotency_key, record).stem
        else:
            with tw.mapped_errors(_NAME, to):
                call = await self._sdk().calls.create_async(
                    timeout=self.settings.ring_seconds, **params
                )
            provider_id = str(call.sid)
        return Receipt(_NAME, msg.idempotency_key, provider_id, datetime.now(UTC))


def build_voice(settings: VoiceSettings, ctx: BuildContext) -> VoiceChannel:
    return VoiceChannel(settings)


SPEC = ChannelSpec(
    name=_NAME,
    settings_model=VoiceSettings,
    factory=build_voice,
    contact_kinds=(ContactKind.PHONE,),
    template_parts=("text",),
    check=tw.phone_problem,
    embedded=tw.capture_into("voice"),  # no account: JSON files
    needs_provider=tw.needs_provider,
)
