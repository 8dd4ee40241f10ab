"""Twilio's callbacks over HTTP: `POST /callbacks/twilio/status` and `.../inbound` (routes of
the ASGI app in incident.entrypoints.http_app).

Every request must carry a valid `X-Twilio-Signature` (HMAC of the URL Twilio called and the
form, with the account's auth token); anything else is refused with 403 before it is used. A
body over `[callbacks] max_body_bytes` is refused (413) before it is read (body_limit), a form
of more than `max_form_fields` fields before its signature is checked; parsing and checking
run in a worker thread, off the event loop.
The form becomes a receipt (incident.service.receipts): a message's MessageStatus, a call's
CallStatus, or the keypress of the voice channel's `<Gather>`:

    MessageStatus delivered                      -> delivered
    MessageStatus undelivered / failed           -> undelivered / failed (next channel)
    CallStatus completed                         -> delivered
    CallStatus no-answer / busy / failed         -> undelivered (next channel)
    Digits=1                                     -> confirmed
    anything else (queued, sent, ringing, ...)   -> nothing to record: 200

The delivery is found by the notice's key in the query (`?key=`, set by the channel), else by
the message or call SID. When a receipt moves the person on, its job is queued through the
outbox with the receipt (incident.service.receipts); `publish`, when given, observes it.
Each answer is TwiML: an empty `<Response/>` ends a call after a keypress.

An inbound message (a reply to a notice) that says yes ("1", "YES", "OK", "JA", "OUI", "SÍ",
"SIM", "是", "はい"...) confirms the latest sms notice sent to that number: the sender's number
names the contact point, which names the person's most recent accepted sms delivery. Any other
reply is acknowledged and not recorded; an unknown number is answered the same way.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from incident.adapters.tables import ContactPoint, DeliveryAttempt
from incident.domain.model import AttemptStatus, DeliverySource, NoticeJob
from incident.entrypoints.body_limit import BodyLimit
from incident.entrypoints.ratelimit import FailureBudget, check, spend
from incident.errors import ConfigError, InvalidInput, NotFound
from incident.service.receipts import ReceiptOutcome, apply_receipt
from incident.settings import Settings

log = structlog.get_logger()

PATH = "/callbacks/twilio/status"
INBOUND_PATH = "/callbacks/twilio/inbound"
SOURCE = DeliverySource.PROVIDER_CALLBACK.value
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
# A reply that means "yes, I got it", in the notices' languages (compared case-folded).
YES = frozenset(
    {
        "1",
        "yes",
        "y",
        "ok",
        "okay",
        "ja",
        "oui",
        "si",
        "sí",
        "sim",
        "是",
        "好",
        "确认",
        "はい",
        "確認",
    }
)
ACCEPTED = (AttemptStatus.SENT.value, AttemptStatus.DELIVERED.value)
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


def says_yes(body: str) -> bool:
    """`Yes!`, ` ok `, `１` and `はい。` all say yes."""
    text = unicodedata.normalize("NFKC", body).strip().casefold()
    return text.strip(" .!。！,") in YES


def latest_sms_to(engine: Engine, number: str) -> str | None:
    """The key of the most recent accepted sms delivery to this number, if any."""
    with Session(engine) as session:
        return _latest_sms_to(session, number)


def _latest_sms_to(session: Session, number: str) -> str | None:
    points = session.exec(
        select(ContactPoint.id).where(ContactPoint.kind == "phone", ContactPoint.value == number)
    ).all()
    if not points:
        return None
    return session.exec(
        select(DeliveryAttempt.idempotency_key)
        .where(
            col(DeliveryAttempt.contact_point_id).in_(list(points)),
            DeliveryAttempt.channel == "sms",
            col(DeliveryAttempt.status).in_(ACCEPTED),
        )
        .order_by(col(DeliveryAttempt.sent_at).desc(), col(DeliveryAttempt.claimed_at).desc())
    ).first()


async def publish_requeue(publish: Publish | None, outcome: ReceiptOutcome) -> None:
    """Tell the observer (if any) of a moved-on person's job; the job itself is already in the
    outbox. A blocking observer runs in a thread."""
    if publish is None or outcome.requeue is None:
        return
    published = await asyncio.to_thread(publish, outcome.requeue)
    if inspect.isawaitable(published):
        await published


def twiml() -> Response:
    return Response(_TWIML, media_type="application/xml")


def twilio_router(
    *,
    engine: Engine,
    auth_token: str,
    publish: Publish | None = None,
    public_url: str | None = None,
    clock: Clock = lambda: datetime.now(UTC),
    max_form_fields: int = 200,
    budget: FailureBudget | None = None,
) -> APIRouter:
    """The callback routes. `public_url` is the origin Twilio calls (`https://hooks.example.
    org`) when a proxy stands in front: the signature covers the URL as Twilio saw it."""
    if not auth_token:
        raise ConfigError("settings", "channels.sms.auth_token", "-", "needed to verify Twilio")
    validator = RequestValidator(auth_token)

    def checked(url: str, body: bytes, signature: str) -> dict[str, str] | None:
        """The form if the signature over URL and form holds; None if not. Raises
        HTTPException(413) for a form of too many fields."""
        if body.count(b"&") >= max_form_fields:
            raise HTTPException(413, f"a form of more than {max_form_fields} fields")
        text = body.decode("utf-8", errors="replace")
        form = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=max_form_fields))
        return form if validator.validate(url, form, signature) else None

    async def signed_form(request: Request) -> dict[str, str]:
        """The form, once the signature over URL and form is checked; else 403 (429 once the
        client has failed too often)."""
        check(budget, request)
        body = await request.body()  # bounded by the app's BodyLimit
        # As sent: the signature covers the URL byte for byte (`%3A` stays `%3A`).
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        origin = (
            public_url.rstrip("/") if public_url else f"{request.url.scheme}://{request.url.netloc}"
        )
        signature = request.headers.get("X-Twilio-Signature", "")
        form = await asyncio.to_thread(checked, origin + target, body, signature)
        if form is None:
            spend(budget, request)
            log.warning("twilio_callback_refused", reason="bad signature")
            raise HTTPException(403, "signature does not match")
        return form

    async def record(
        request: Request,
        status: AttemptStatus,
        detail: dict[str, Any],
        *,
        key: str | None = None,
        provider_id: str | None = None,
    ) -> None:
        try:
            outcome = await asyncio.to_thread(
                functools.partial(
                    apply_receipt,
                    engine,
                    status=status,
                    source=SOURCE,
                    now=clock(),
                    detail=detail,
                    key=key,
                    provider_id=provider_id,
                )
            )
        except (NotFound, InvalidInput) as exc:
            spend(budget, request)
            log.warning("twilio_callback_unmatched", reason=str(exc))
            raise HTTPException(404, "no such delivery") from exc
        await publish_requeue(publish, outcome)

    router = APIRouter()

    @router.post(PATH)
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        state, detail = receipt_for(form)
        if state is not None:
            key = request.query_params.get("key") or None
            sid = form.get("MessageSid") or form.get("CallSid") or None
            await record(request, state, detail, key=key, provider_id=None if key else sid)
        return twiml()

    @router.post(INBOUND_PATH)
    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        if not says_yes(form.get("Body", "")):
            return twiml()
        key = await asyncio.to_thread(latest_sms_to, engine, form.get("From", ""))
        if key is None:
            log.info("twilio_reply_unmatched")
            return twiml()
        await record(request, AttemptStatus.CONFIRMED, {"reply": "yes"}, key=key)
        return twiml()

    return router


def make_app(
    *,
    engine: Engine,
    auth_token: str,
    publish: Publish,
    public_url: str | None = None,
    clock: Clock = lambda: datetime.now(UTC),
    max_body_bytes: int = 64 * 1024,
) -> FastAPI:
    """An app with the Twilio routes only (http_app.create_app serves them with the rest)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.include_router(
        twilio_router(
            engine=engine,
            auth_token=auth_token,
            publish=publish,
            public_url=public_url,
            clock=clock,
        )
    )
    return app


def auth_token_from(settings: Settings) -> str:
    """The Twilio auth token of the sms channel's settings (else the voice channel's)."""
    for name in ("sms", "voice"):
        token = str(settings.channels.get(name, {}).get("auth_token") or "")
        if token:
            return token
    raise ConfigError("settings", "channels.sms.auth_token", "-", "needed to verify Twilio")
