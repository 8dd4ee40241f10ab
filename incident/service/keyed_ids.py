"""Ids we hand out that come back from outside: keyed, so nobody can make one up.

A notice's Message-ID (and the letter id derived from it) returns in bounce reports and print-
house return files; the confirmation link returns as a click. Each is an HMAC under a key of
its own, derived from the confirmation secret (incident.service.confirmation.secret_of) with a
label, so one secret serves them all and no id can be computed without it:

    message key = HMAC-SHA256(secret, "breachnotice/message-id/v1")
    Message-ID  = hex(HMAC-SHA256(message key, idempotency key))[:40] @ domain

Deterministic per idempotency key: a resend after a crash carries the same Message-ID. A
receipt naming a Message-ID is accepted only when it verifies against the key of the delivery
it names (`message_id_verifies`): one HMAC per receipt.
"""

from __future__ import annotations

import hashlib
import hmac

MESSAGE_LABEL = b"breachnotice/message-id/v1"
LINK_LABEL = b"breachnotice/confirmation-link/v1"
LOCAL_HEX = 40  # 160 bits of the HMAC in the Message-ID's local part


def derive(secret: bytes, label: bytes) -> bytes:
    """A key of its own for one use of the secret."""
    return hmac.new(secret, label, hashlib.sha256).digest()


def message_key_of(secret: bytes) -> bytes:
    return derive(secret, MESSAGE_LABEL)


def message_local(key: str, message_key: bytes) -> str:
    """The local part of the Message-ID of the delivery `key`."""
    return hmac.new(message_key, key.encode(), hashlib.sha256).hexdigest()[:LOCAL_HEX]


def message_id_for(key: str, domain: str, message_key: bytes) -> str:
    return f"{message_local(key, message_key)}@{domain}"


def bare(message_id: str) -> str:
    """`<a@b>` -> `a@b`."""
    return message_id.strip().removeprefix("<").removesuffix(">")


def message_id_verifies(message_id: str, key: str, message_key: bytes) -> bool:
    """Whether `message_id` is the one we made for the delivery `key`."""
    local = bare(message_id).partition("@")[0]
    return hmac.compare_digest(local.encode(), message_local(key, message_key).encode())
