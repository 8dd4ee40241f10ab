"""Twilio's status callbacks over HTTP: `POST /callbacks/twilio/status`.

Every request must carry a valid `X-Twilio-Signature` (HMAC of the URL Twilio called and the
form, with the account's auth token); anything else is refused with 403 before it is read.
The form becomes a receipt (incident.service.receipts): a message's MessageStatus, a call's
CallStatus, or the keypress of the voice channel's `<Gather>`:

    MessageStatus delivered                      -> delivered
    MessageStatus undelivered / failed           -> undelivered / failed (next channel)
    CallStatus completed                         -> delivered
    CallStatus no-answer / busy / failed         -> undelivered (next channel)
    Digits=1                                     -> confirmed
    anything else (queued, sent, ringing, ...)   -> nothing to record: 200

The delivery is found by the notice's key in the query (`?key=`, set by the channel), else by
the message or call SID. When a receipt moves the person on, the job is handed to `publish`
(the notices topic). Each answer is TwiML: an empty `<Response/>` ends a call after a keypress.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from incident.domain.model import AttemptStatus, NoticeJob
from incident.errors import ConfigError, InvalidInput, NotFound
from incident.service.receipts import apply_receipt
from incident.settings import Settings

log = structlog.get_logger()

PATH = "/callbacks/twilio/status"
SOURCE = "provider_callback"
MESSAGE_STATUS = {
    "delivered": AttemptStatus.DELIVERED,
    "undelivered": AttemptStatus.UNDELIVERED,
    "failed": AttemptStatus.FAILED,
}
CALL_STATUS = {
    "completed": AttemptStatus.DELIVERED,
    "no-answer": AttemptStatus.UNDELIVERED,
    "busy": AttemptStatus.UNDELIVERED,
    "failed": AttemptStatus.UNDELIVERED,
}
_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

Publish = Callable[[NoticeJob], Awaitable[None] | None]
Clock = Callable[[], datetime]


def receipt_for(form: Mapping[str, str]) -> tuple[AttemptStatus | None, dict[str, Any]]:
    """What a callback says, and the detail worth keeping (never the numbers)."""
    if "Digits" in form:
        status = AttemptStatus.CONFIRMED if form["Digits"] == "1" else None
        return status, {"digits": form["Digits"]}
    if "MessageStatus" in form:
        said = form["MessageStatus"]
        status = MESSAGE_STATUS.get(said)
    else:
        said = form.get("CallStatus", "")
        status = CALL_STATUS.get(said)
    detail: dict[str, Any] = {"provider_status": said}
    if code := form.get("ErrorCode"):
        detail["error_code"] = code
    detail["reason"] = f"twilio {said}" + (f" (error {code})" if code else "")
    return status, detail


def make_app(
    *,
    engine: Engine,
    auth_token: str,
    publish: Publish,
    public_url: str | None = None,
    clock: Clock = lambda: datetime.now(UTC),
) -> web.Application:
    """The callback endpoint. `public_url` is the origin Twilio calls (`https://hooks.example.
    org`) when a proxy stands in front: the signature covers the URL as Twilio saw it."""
    if not auth_token:
        raise ConfigError("settings", "channels.sms.auth_token", "-", "needed to verify Twilio")
    validator = RequestValidator(auth_token)

    async def status(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        # As sent: the signature covers the URL byte for byte (`%3A` stays `%3A`).
        url = (
            public_url.rstrip("/") if public_url else str(request.url.origin())
        ) + request.raw_path
        if not validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
            log.warning("twilio_callback_refused", reason="bad signature")
            raise web.HTTPForbidden(text="signature does not match")
        state, detail = receipt_for(form)
        if state is not None:
            key = request.query.get("key") or None
            sid = form.get("MessageSid") or form.get("CallSid") or None
            try:
                outcome = await asyncio.to_thread(
                    apply_receipt,
                    engine,
                    status=state,
                    source=SOURCE,
                    key=key,
                    provider_id=None if key else sid,
                    now=clock(),
                    detail=detail,
                )
            except (NotFound, InvalidInput) as exc:
                log.warning("twilio_callback_unmatched", reason=str(exc))
                raise web.HTTPNotFound(text="no such delivery") from exc
            if outcome.requeue is not None:
                published = publish(outcome.requeue)
                if inspect.isawaitable(published):
                    await published
        return web.Response(text=_TWIML, content_type="application/xml")

    app = web.Application()
    app.router.add_post(PATH, status)
    return app


def auth_token_from(settings: Settings) -> str:
    """The Twilio auth token of the sms channel's settings (else the voice channel's)."""
    for name in ("sms", "voice"):
        token = str(settings.channels.get(name, {}).get("auth_token") or "")
        if token:
            return token
    raise ConfigError("settings", "channels.sms.auth_token", "-", "needed to verify Twilio")
