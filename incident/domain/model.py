"""Vocabulary of the domain: plain enums and value types, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def is_high_risk(self) -> bool:
        """High and above is a 'significant incident' / 'high risk' where a regime asks."""
        return self in (Severity.HIGH, Severity.CRITICAL)


class DataCategory(StrEnum):
    """Ids of what the platform collects; rules and templates refer to these."""

    CONTACT = "contact"
    IDENTITY_DOCUMENT = "identity_document"
    BUSINESS_REGISTRATION = "business_registration"
    TRANSACTIONS = "transactions"
    DEVICE = "device"
    CREDENTIALS = "credentials"
    PAYMENT = "payment"
    HEALTH = "health"


class IncidentStatus(StrEnum):
    RAISED = "raised"
    ENRICHED = "enriched"
    CLOSED = "closed"


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    UNREACHABLE = "unreachable"


class AttemptStatus(StrEnum):
    SENDING = "sending"  # claimed: the provider call may be in flight
    SENT = "sent"
    RETRY = "retry"  # transient failure: may be claimed again after a backoff
    FAILED = "failed"  # permanent failure on this channel: the next channel is tried


class ChannelName(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    LETTER = "letter"
    PUSH = "push"
    ANNOUNCEMENT = "announcement"
    REGULATOR = "regulator"


@dataclass(frozen=True, slots=True)
class NoticeJob:
    """What travels on the `notices` topic: ids only, never contact details or text."""

    incident_id: str
    person_id: str
    notice_version: int


def idempotency_key(incident_id: str, person_id: str, channel: str, notice_version: int) -> str:
    return f"{incident_id}:{person_id}:{channel}:{notice_version}"
