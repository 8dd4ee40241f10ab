"""Bounce reports sent back to the envelope sender: RFC 3464 delivery status notifications.

A DSN is `multipart/report; report-type=delivery-status` with three parts: a human-readable
notification, a `message/delivery-status` part (one block about the message, then one block
per recipient: Action, Status, Diagnostic-Code) and the returned message, whole
(`message/rfc822`) or its headers only (`text/rfc822-headers`). The returned message's
Message-ID is derived from the notice's idempotency key and keyed (keyed_ids), so it names the
delivery without naming the person, and nobody without the secret can write a report about a
delivery: `verifier` refuses a report whose delivery is no email or whose Message-ID is not one
we made (a forged report, or a message sent before Message-IDs were keyed).

Per recipient, what the report says becomes a receipt:

    Action: failed                  -> bounced (5.x.x hard, 4.x.x given up): the next channel
    Action: delayed                 -> delayed: stored as an event, nothing changes
    Action: delivered               -> delivered
    Action: relayed / expanded      -> nothing to record (out of our sight)

Anything that is not a DSN (an out-of-office reply, a person answering) is no bounce: `parse`
returns no reports for it. Pure: bytes in, reports out; no database, no I/O.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser

from incident.adapters.tables import DeliveryAttempt
from incident.domain.model import AttemptStatus
from incident.errors import Unverified
from incident.service.keyed_ids import message_id_verifies
from incident.service.receipts import Verify

RECEIPTS = {
    "failed": AttemptStatus.BOUNCED,
    "delayed": AttemptStatus.DELAYED,
    "delivered": AttemptStatus.DELIVERED,
}
_FOLD = re.compile(r"\s*\r?\n\s+")
_MESSAGE_ID = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
MAX_DIAGNOSTIC = 500


@dataclass(frozen=True, slots=True)
class BounceReport:
    """What a DSN says about one recipient of one message we sent."""

    message_id: str | None  # of the returned message, without angle brackets
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # RFC 3463 code, e.g. 5.1.1 ("" when the report gives none)
    diagnostic: str  # the remote server's words (may quote the address: keep out of logs)

    @property
    def receipt(self) -> AttemptStatus | None:
        return RECEIPTS.get(self.action)

    @property
    def hard(self) -> bool:
        """A permanent failure (5.x.x): the address itself is refused."""
        return self.action == "failed" and self.status.startswith("5")


def parse(raw: bytes) -> list[BounceReport]:
    """The per-recipient reports of one DSN; empty for any message that is not a DSN."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    report = _delivery_status(msg)
    if report is None:
        return []
    message_id = _returned_message_id(msg)
    blocks = report.get_payload()
    if not isinstance(blocks, list):
        return []
    reports: list[BounceReport] = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        if not isinstance(block, Message) or block.get("Action") is None:
            continue
        reports.append(
            BounceReport(
                message_id=message_id,
                action=_field(block, "Action").lower().partition(" ")[0],
                status=_field(block, "Status").partition(" ")[0],
                diagnostic=_diagnostic(block),
            )
        )
    return reports


def _delivery_status(msg: Message) -> Message | None:
    if msg.get_content_type() != "multipart/report":
        return None
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            return part
    return None


def _returned_message_id(msg: Message) -> str | None:
    """The Message-ID of the message the report is about (whole or headers only)."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return _message_id(inner[0].get("Message-ID"))
        elif kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                headers = BytesHeaderParser().parsebytes(payload)
            else:
                headers = HeaderParser().parsestr(str(part.get_payload()))
            return _message_id(headers.get("Message-ID"))
    return None


def _message_id(value: object) -> str | None:
    if value is None:
        return None
    found = _MESSAGE_ID.search(str(value))
    return found.group(1) if found else None


def _field(block: Message, name: str) -> str:
    return _FOLD.sub(" ", str(block.get(name, ""))).strip()


def _diagnostic(block: Message) -> str:
    """`smtp; 550 5.1.1 ...` without the type, unfolded, bounded."""
    said = _field(block, "Diagnostic-Code")
    _type, sep, text = said.partition(";")
    return (text.strip() if sep else said)[:MAX_DIAGNOSTIC]


def verifier(message_key: bytes, message_id: str) -> Verify:
    """The check of the delivery a report's Message-ID names (one HMAC)."""

    def verify(attempt: DeliveryAttempt) -> Unverified | None:
        if attempt.channel != "email":
            return Unverified("Message-ID", message_id, "names a delivery that is no email")
        if not message_id_verifies(attempt.message_id, attempt.idempotency_key, message_key):
            return Unverified("Message-ID", message_id, "is not a Message-ID we made")
        return None

    return verify
