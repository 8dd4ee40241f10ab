"""Personal confirmation links that name no person.

Every notice carries a link `base_url` with `{token}` filled in. The token is

    base64url( id[:12] || HMAC-SHA256(link key, key)[:16] )   (38 characters)

where `key` is the delivery's idempotency key and `id` the keyed local part of its Message-ID
(keyed_ids: an HMAC of the key under the message key). The first part finds the delivery: the
Message-ID starts with its hex, so no extra table is needed. The second part proves the link
was issued by us: both keys derive from the secret (keyed_ids.derive, one label each), so
without it nobody can make a token for a delivery, and a token reveals neither the person nor
the incident.

Opening the link (GET) only shows a page with a button: mail scanners that pre-open every link
confirm nothing. The button POSTs the token, which records a `confirmed` receipt (source
confirmation_link), once: the person's notice is confirmed and the rest of their chain is
skipped (incident.service.receipts). A link is valid for `[confirmation] valid_days` (90) from
the time its notice was sent; after that it answers 410 Gone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import LINK_PREFIX, DeliveryAttempt, message_id_prefix
from incident.errors import ConfigError
from incident.secrets_config import checked, shared_secret
from incident.service.keyed_ids import LINK_LABEL, derive, message_key_of, message_local
from incident.settings import Settings

ID_BYTES = LINK_PREFIX // 2  # of the keyed Message-ID: 96 bits, collisions settled by the MAC
MAC_BYTES = 16
SECRET_FILE = "confirmation.secret"  # under out_dir, for the embedded default
TOKEN_LEN = len(base64.urlsafe_b64encode(bytes(ID_BYTES + MAC_BYTES)).rstrip(b"="))


def _lookup(key: str, secret: bytes) -> bytes:
    """The first bytes of the delivery's Message-ID (its hex starts every Message-ID)."""
    return bytes.fromhex(message_local(key, message_key_of(secret)))[:ID_BYTES]


def _mac(secret: bytes, key: str) -> bytes:
    link_key = derive(secret, LINK_LABEL)
    return hmac.new(link_key, key.encode(), hashlib.sha256).digest()[:MAC_BYTES]


def token_for(key: str, secret: bytes) -> str:
    raw = _lookup(key, secret) + _mac(secret, key)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token: str) -> bytes | None:
    if len(token) != TOKEN_LEN or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == ID_BYTES + MAC_BYTES else None


@dataclass(frozen=True, slots=True)
class Issued:
    """The delivery a token names, and when its notice went out (the link's validity starts)."""

    key: str
    sent_at: datetime | None

    def expired(self, now: datetime, valid_days: float) -> bool:
        return self.sent_at is not None and now - self.sent_at > timedelta(days=valid_days)


def lookup(engine: Engine, token: str, secret: bytes) -> Issued | None:
    """The delivery a token was issued for; None for a malformed, forged or unknown token."""
    raw = _decode(token)
    if raw is None:
        return None
    prefix, mac = raw[:ID_BYTES].hex(), raw[ID_BYTES:]
    with Session(engine) as session:
        rows = session.exec(
            select(
                DeliveryAttempt.idempotency_key, DeliveryAttempt.sent_at, DeliveryAttempt.claimed_at
            ).where(message_id_prefix() == prefix)
        ).all()
    for key, sent_at, claimed_at in rows:
        if hmac.compare_digest(_mac(secret, key), mac):
            return Issued(key, sent_at or claimed_at)
    return None


def key_for(engine: Engine, token: str, secret: bytes) -> str | None:
    issued = lookup(engine, token, secret)
    return issued.key if issued is not None else None


def link_for(key: str, *, secret: bytes, base_url: str) -> str:
    token = token_for(key, secret)
    if "{token}" in base_url:
        return base_url.replace("{token}", token)
    return f"{base_url.rstrip('/')}/{token}"


def secret_of(settings: Settings, *, create: bool = True) -> bytes:
    """`[confirmation] secret` (or `secret_file`), else the embedded default's random secret
    kept under out_dir (made once, atomically, readable by the owner only; see
    incident.secrets_config). Without either, and `create` off: error. An empty or short
    secret is refused, naming where it came from, never showing it."""
    if settings.confirmation.secret:
        return checked(settings.confirmation.secret.strip(), "confirmation.secret")
    path = Path(settings.out_dir) / SECRET_FILE
    if not create and not path.is_file():
        raise ConfigError("settings", "confirmation.secret", "-", "needed to sign links")
    return checked(shared_secret(path), str(path))
