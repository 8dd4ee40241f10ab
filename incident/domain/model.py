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
    DRAFT = "draft"  # raised, awaiting a second person's approval: nothing goes to people
    RAISED = "raised"
    ENRICHED = "enriched"
    CLOSED = "closed"


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"  # accepted by a channel's provider
    DELIVERED = "delivered"  # the provider or print house confirmed delivery
    CONFIRMED = "confirmed"  # the recipient confirmed they received it
    UNREACHABLE = "unreachable"


# A notice that reached one of these needs nothing more from the dispatcher.
SETTLED_NOTICE = frozenset(
    {NoticeStatus.SENT, NoticeStatus.DELIVERED, NoticeStatus.CONFIRMED, NoticeStatus.UNREACHABLE}
)


class AttemptStatus(StrEnum):
    SENDING = "sending"  # claimed: the provider call may be in flight
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"  # provider callback / print house: it arrived
    CONFIRMED = "confirmed"  # the recipient confirmed (link, keypress)
    BOUNCED = "bounced"  # came back after acceptance (bounce report): next channel
    UNDELIVERED = "undelivered"  # provider gave up after acceptance: next channel
    RETRY = "retry"  # not sent yet: may be claimed again after `not_before`
    SCHEDULED = "scheduled"  # an escalation step's timer: claimed when `not_before` comes
    CANCELLED = "cancelled"  # a timer whose step is no longer needed
    FAILED = "failed"  # refused for this recipient on this channel: the next channel is tried
    DELAYED = "delayed"  # a delay report (RFC 3464 Action: delayed): an event, no state change


# After acceptance, what a receipt may say, and whether the person must move on.
RECEIPT_STATES = frozenset(
    {
        AttemptStatus.DELIVERED,
        AttemptStatus.CONFIRMED,
        AttemptStatus.BOUNCED,
        AttemptStatus.UNDELIVERED,
        AttemptStatus.FAILED,
    }
)
# Notice statuses an operator may move back to pending (`notices requeue --status`).
REQUEUABLE = ("unreachable", "failed")
RETURNED = frozenset({AttemptStatus.BOUNCED, AttemptStatus.UNDELIVERED, AttemptStatus.FAILED})


class AddresseeKind(StrEnum):
    PERSON = "person"
    PUBLIC = "public"  # an announcement: the notice page and feed
    AUTHORITY = "authority"  # a regulator report


class DeliverySource(StrEnum):
    DISPATCHER = "dispatcher"
    PROVIDER_CALLBACK = "provider_callback"
    BOUNCE_REPORT = "bounce_report"
    PRINT_HOUSE = "print_house"
    CONFIRMATION_LINK = "confirmation_link"
    OPERATOR = "operator"


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
    """What travels on the `notices` topic: ids only, never contact details or text.

    `addressee_id`: a person's id, "public", or an authority's (obligation's) id."""

    incident_id: str
    addressee_id: str
    notice_version: int
    addressee_kind: str = AddresseeKind.PERSON


def addressee_ref(kind: str, addressee_id: str) -> str:
    """The addressee part of an idempotency key: a person's id as it always was, else
    `public` or `authority.<id>`, so the kinds can never collide."""
    if kind == AddresseeKind.PERSON:
        return addressee_id
    if kind == AddresseeKind.PUBLIC:
        return "public"
    return f"{kind}.{addressee_id}"


def idempotency_key(
    incident_id: str,
    person_id: str,
    channel: str,
    notice_version: int,
    addressee_kind: str = AddresseeKind.PERSON,
) -> str:
    addressee = addressee_ref(addressee_kind, person_id)
    return f"{incident_id}:{addressee}:{channel}:{notice_version}"
