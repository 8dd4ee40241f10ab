"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291), via pywebpush.

A subscription (endpoint + keys) is the contact point. The push service's answer decides:
2xx accepted (`Location` names the message) · 404/410 the subscription is gone: retire it and
move the person on · 400/413 this message is refused · 401/403 our VAPID credentials are wrong
· 429 throttles us (the sender's rate is slowed) · 5xx, network and timeouts: the service is
unhealthy. The payload is a small JSON object (title, body, url, lang, tag) in the person's
language that opens the notice page.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt
from pydantic import Field, SecretStr, field_validator
from pywebpush import WebPusher, WebPushException

from channels.base import (
    BuildContext,
    Channel,
    ChannelSettings,
    ChannelSpec,
    ContactKind,
    ContactPointData,
    Receipt,
    RenderedMessage,
)
from channels.errors import (
    ChannelFault,
    ChannelTimeout,
    ContactPointGone,
    MessageRejected,
    RecipientRejected,
    Throttled,
)
from channels.push_policy import (
    DEFAULT_PUSH_HOSTS,
    DEFAULT_PUSH_PORTS,
    EndpointPolicy,
    EndpointRefused,
    NoRedirects,
    PublicResolver,
)

_NAME = "push"
_JWT_LIFETIME = 12 * 3600  # RFC 8292: at most 24 h; re-signed an hour before it runs out
_DEFAULT_POLICY = EndpointPolicy()


class PushSettings(ChannelSettings):
    """`[channels.push]`; no VAPID key writes each payload as a JSON file under out/push."""

    vapid_private_key: SecretStr | None = None  # PEM, or base64url of the raw 32-byte scalar
    vapid_subject: str = ""  # mailto:security@example.org or an https: URL
    # The notice page; {incident_ref} and {locale} are filled in (URL-quoted).
    notice_url_template: str = ""
    ttl: int = Field(default=7 * 86400, ge=0, le=28 * 86400)  # kept while the device is offline
    urgency: Literal["very-low", "low", "normal", "high"] = "high"
    timeout: float = Field(default=10.0, gt=0)
    local_dir: str | None = None  # set by the embedded default: write payloads, send nothing
    # Push services we POST to (channels/push_policy.py): exact names, `*.suffix`, `host:port`.
    allowed_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_PUSH_HOSTS))
    allowed_ports: list[int] = Field(default_factory=lambda: list(DEFAULT_PUSH_PORTS))

    @field_validator("allowed_hosts")
    @classmethod
    def _entries_parse(cls, hosts: list[str]) -> list[str]:
        EndpointPolicy(hosts)  # ValueError names the entry
        return hosts

    def policy(self) -> EndpointPolicy:
        return EndpointPolicy(self.allowed_hosts, self.allowed_ports)


class PushChannel(Channel):
    name = _NAME
    contact_kind = ContactKind.PUSH
    max_payload_bytes = 1024  # JSON before encryption; push services take up to ~4 KB after
    # What notification centres show before cutting (Android and Chrome collapse a title to
    # one or two lines, macOS and Windows to two; bodies to about four lines).
    max_title_chars = 80
    max_body_chars = 240

    def __init__(
        self,
        *,
        vapid_private_key: str | None,
        vapid_subject: str = "",
        notice_url_template: str = "",
        ttl: int = 7 * 86400,
        urgency: str = "high",
        timeout: float = 10.0,
        pool_size: int = 16,
        local_dir: Path | None = None,
        policy: EndpointPolicy | None = None,
    ) -> None:
        self._policy = policy or EndpointPolicy()
        self._key = load_vapid_key(vapid_private_key) if local_dir is None else None
        if self._key is not None and not _subject_ok(vapid_subject):
            raise ValueError(f"vapid_subject must be a mailto: or https: URL: {vapid_subject!r}")
        self._public = _public_b64(self._key) if self._key is not None else ""
        _notice_url(notice_url_template, "INC-1", "en")  # a bad template fails at build time
        self._subject, self._url_template = vapid_subject, notice_url_template
        self._ttl, self._urgency, self._timeout = ttl, urgency, timeout
        self._pool_size, self._local_dir = pool_size, local_dir
        self._jwts: dict[str, tuple[str, int]] = {}  # audience -> (Authorization, exp)
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        contact = msg.contact or ContactPointData(ContactKind.PUSH, msg.recipient)
        if problem := subscription_problem(contact, self._policy):
            raise RecipientRejected(_NAME, problem)
        topic = topic_for(msg.idempotency_key)
        data = self.payload(msg, topic)
        if self._local_dir is not None:
            await asyncio.to_thread(_write_atomic, self._local_dir, topic, contact, data)
            location = None
        else:
            location = await self._post(_subscription(contact), data, topic)
        return Receipt(_NAME, msg.idempotency_key, location, datetime.now(UTC))

    def payload(self, msg: RenderedMessage, topic: str) -> bytes:
        """The notification as UTF-8 JSON, its body shortened to fit `max_payload_bytes`."""
        lines = [line.strip() for line in msg.body_text.splitlines() if line.strip()]
        title = msg.subject or (lines.pop(0) if lines else "")
        link = lines.pop() if lines and lines[-1].startswith(("https://", "http://")) else None
        ref = msg.headers.get("X-Incident-Ref") or msg.idempotency_key.split(":", 1)[0]
        url = _notice_url(self._url_template, ref, msg.locale) or link
        title = shorten(title, self.max_title_chars)
        body = shorten(" ".join(lines), self.max_body_chars)
        # `tag`: a service worker replaces rather than stacks a resent notice.
        note = {"title": title, "body": body, "url": url, "lang": msg.locale, "tag": topic}
        while (over := len(encoded := _json(note)) - self.max_payload_bytes) > 0:
            if not body:
                raise MessageRejected(_NAME, f"payload is {len(encoded)} bytes without a body")
            # Each character is at least one byte: cutting `over` of them always makes room.
            body = note["body"] = body[: -(over + 1)].rstrip() + "…"
        return encoded

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _post(self, subscription: dict[str, Any], data: bytes, topic: str) -> str | None:
        if self._session is None:  # created on first use, inside the running event loop
            resolver = PublicResolver(self._policy)  # checks the address connected to
            connector = aiohttp.TCPConnector(limit=self._pool_size, resolver=resolver)
            self._session = aiohttp.ClientSession(connector=connector)
        headers = {
            "Authorization": self._authorization(subscription["endpoint"]),
            "Urgency": self._urgency,
            "Topic": topic,  # the push service replaces an undelivered message of the same topic
        }
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        try:
            session: Any = NoRedirects(self._session)  # a redirect is an answer, not followed
            pusher = WebPusher(subscription, aiohttp_session=session)
        except (WebPushException, ValueError) as exc:  # check() refuses these before
            raise RecipientRejected(_NAME, "subscription keys are unusable") from exc
        try:
            resp: aiohttp.ClientResponse = await pusher.send_async(
                data, headers, ttl=self._ttl, timeout=timeout
            )
        except TimeoutError as exc:
            raise ChannelTimeout(_NAME, f"push service timed out after {self._timeout}s") from exc
        except aiohttp.InvalidURL as exc:
            raise RecipientRejected(_NAME, "endpoint is not a usable URL") from exc
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.__cause__, EndpointRefused):
                raise RecipientRejected(_NAME, str(exc.__cause__)) from exc
            raise ChannelFault(_NAME, f"push service unreachable: {type(exc).__name__}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ChannelFault(_NAME, f"push service unreachable: {type(exc).__name__}") from exc
        if 200 <= resp.status < 300:
            return resp.headers.get("Location")
        if 300 <= resp.status < 400:
            said = f"push endpoint redirected ({resp.status}): not followed"
            raise RecipientRejected(_NAME, said)
        raise _verdict(resp.status, resp.reason or "", resp.headers.get("Retry-After"))

    def _authorization(self, endpoint: str) -> str:
        """`vapid t=<JWT>, k=<public key>`, one JWT per push service origin while it is fresh."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        header, exp = self._jwts.get(audience, ("", 0))
        now = int(time.time())
        if exp - now < 3600:
            assert self._key is not None
            exp = now + _JWT_LIFETIME
            claims = {"aud": audience, "sub": self._subject, "exp": exp}
            header = f"vapid t={vapid_jwt.sign(claims, self._key)}, k={self._public}"
            self._jwts[audience] = (header, exp)
        return header


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a space (or between CJK characters) with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—、，：") + "…"


def _verdict(status: int, reason: str, retry_after: str | None) -> Exception:
    said = f"{status} {reason}".strip()
    if status in (404, 410):
        return ContactPointGone(_NAME, f"subscription gone: {said}")
    if status in (400, 413):
        return MessageRejected(_NAME, f"push service refused the message: {said}")
    if status in (401, 403):
        return ChannelFault(_NAME, f"VAPID refused ({said}); check vapid_private_key/subject")
    wait = f", retry after {retry_after}" if retry_after else ""
    if status == 429:
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        return Throttled(_NAME, f"push service throttles: {said}{wait}", seconds)
    return ChannelFault(_NAME, f"push service answered {said}{wait}")


def load_vapid_key(value: str | None) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM or base64url (raw 32 bytes or DER); ValueError if not."""
    text = (value or "").strip()
    if not text:
        raise ValueError("vapid_private_key is empty")
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = _b64url(text.replace("\n", ""))
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("vapid_private_key is not a PEM or base64url EC private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("vapid_private_key must be an EC P-256 (prime256v1) private key")
    return key


def subscription_problem(
    point: ContactPointData, policy: EndpointPolicy | None = None
) -> str | None:
    """Why a subscription cannot be used, without repeating its endpoint (logs carry this):
    an endpoint `policy` refuses (default: the push services only), or unusable keys."""
    details = point.details if isinstance(point.details, Mapping) else {}
    endpoint = str(details.get("endpoint") or point.value)
    if problem := (policy or _DEFAULT_POLICY).problem(endpoint):
        return problem
    keys = details.get("keys")
    if not isinstance(keys, Mapping) or not keys.get("p256dh") or not keys.get("auth"):
        return "subscription has no keys (p256dh and auth)"
    try:
        public = _b64url(str(keys["p256dh"]))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
        auth = _b64url(str(keys["auth"]))
    except (ValueError, binascii.Error):
        return "p256dh is not a P-256 public key"
    return None if len(auth) == 16 else "auth secret is not 16 bytes"


def topic_for(key: str) -> str:
    """RFC 8030 Topic: at most 32 base64url characters, the same for every resend of a key."""
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).decode()[:32]


def _subscription(point: ContactPointData) -> dict[str, Any]:
    keys = point.details["keys"]
    endpoint = str(point.details.get("endpoint") or point.value)
    return {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


def _notice_url(template: str, ref: str, locale: str) -> str | None:
    if not template:
        return None
    try:
        url = template.format(incident_ref=quote(ref, safe=""), locale=quote(locale, safe=""))
    except (KeyError, IndexError, ValueError) as exc:
        reason = f"notice_url_template may use only {{incident_ref}} and {{locale}} ({exc!r})"
        raise ValueError(reason) from exc
    if not url.startswith(("https://", "http://")):
        raise ValueError("notice_url_template must be an https:// URL")
    return url


def _public_b64(key: ec.EllipticCurvePrivateKey) -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json(note: Mapping[str, Any]) -> bytes:
    return json.dumps(note, ensure_ascii=False, separators=(",", ":")).encode()


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _subject_ok(subject: str) -> bool:
    """RFC 8292 `sub`: a contact for the push service's operators."""
    if subject.startswith("mailto:"):
        return "@" in subject
    return subject.startswith("https://") and bool(urlsplit(subject).hostname)


def _write_atomic(folder: Path, topic: str, point: ContactPointData, data: bytes) -> None:
    """One file per notice (a resend replaces it), written to a temporary name then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"endpoint": _subscription(point)["endpoint"], "topic": topic}
    record["payload"] = json.loads(data)
    tmp = folder / f".{topic}.{secrets.token_hex(4)}.tmp"  # unique even for concurrent resends
    tmp.write_bytes(_json(record))
    os.replace(tmp, folder / f"{topic}.json")


def _secret(value: SecretStr | None) -> str | None:
    return (value.get_secret_value().strip() or None) if value is not None else None


def build_push(settings: PushSettings, ctx: BuildContext) -> PushChannel:
    return PushChannel(
        vapid_private_key=_secret(settings.vapid_private_key),
        vapid_subject=settings.vapid_subject,
        notice_url_template=settings.notice_url_template,
        ttl=settings.ttl,
        urgency=settings.urgency,
        timeout=settings.timeout,
        pool_size=settings.concurrency,
        local_dir=Path(settings.local_dir) if settings.local_dir else None,
        policy=settings.policy(),
    )


def push_check(settings: PushSettings) -> Callable[[ContactPointData], str | None]:
    """The import-time check with the configured allow-list."""
    policy = settings.policy()
    return lambda point: subscription_problem(point, policy)


def embedded_push(settings: PushSettings, ctx: BuildContext) -> PushSettings:
    """No push service configured: each payload becomes a JSON file under out/push."""
    return settings.model_copy(update={"local_dir": str(ctx.out_dir / "push")})


SPEC = ChannelSpec(
    name=_NAME,
    settings_model=PushSettings,
    factory=build_push,
    contact_kinds=(ContactKind.PUSH,),
    template_parts=("text",),
    check=subscription_problem,
    checker=push_check,
    embedded=embedded_push,
    needs_provider=lambda s: not s.local_dir and not _secret(s.vapid_private_key),
)
