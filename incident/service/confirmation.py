"""Personal confirmation links that name no person.

Every notice carries a link `base_url` with `{token}` filled in. The token is

    base64url( sha256(key)[:12] || HMAC-SHA256(secret, sha256(key))[:16] )   (38 characters)

where `key` is the delivery's idempotency key. The first part finds the delivery: every
attempt's Message-ID starts with the hex of sha256(key) (compose.message_id_for), so no extra
table is needed. The second part proves the link was issued by us: without the secret nobody
can make a token for a delivery, and a token reveals neither the person nor the incident.

Opening the link records a `confirmed` receipt (source confirmation_link): the person's notice
is confirmed and the rest of their chain is skipped (incident.service.receipts).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.tables import DeliveryAttempt
from incident.errors import ConfigError
from incident.secrets_config import checked, shared_secret
from incident.settings import Settings

ID_BYTES = 12  # of sha256(key): 96 bits, collisions are settled by the MAC
MAC_BYTES = 16
SECRET_FILE = "confirmation.secret"  # under out_dir, for the embedded default
TOKEN_LEN = len(base64.urlsafe_b64encode(bytes(ID_BYTES + MAC_BYTES)).rstrip(b"="))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _mac(secret: bytes, digest: bytes) -> bytes:
    return hmac.new(secret, digest, hashlib.sha256).digest()[:MAC_BYTES]


def token_for(key: str, secret: bytes) -> str:
    digest = _digest(key)
    raw = digest[:ID_BYTES] + _mac(secret, digest)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token: str) -> bytes | None:
    if len(token) != TOKEN_LEN or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == ID_BYTES + MAC_BYTES else None


def key_for(engine: Engine, token: str, secret: bytes) -> str | None:
    """The delivery a token was issued for; None for a malformed, forged or unknown token."""
    raw = _decode(token)
    if raw is None:
        return None
    prefix, mac = raw[:ID_BYTES].hex(), raw[ID_BYTES:]
    with Session(engine) as session:
        keys = session.exec(
            select(DeliveryAttempt.idempotency_key).where(
                col(DeliveryAttempt.message_id).startswith(prefix)
            )
        ).all()
    for key in keys:
        digest = _digest(key)
        if digest[:ID_BYTES].hex() == prefix and hmac.compare_digest(_mac(secret, digest), mac):
            return key
    return None


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
