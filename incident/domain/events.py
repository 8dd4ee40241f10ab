"""Domain events: facts the pipeline reports, so the steps that follow (obligations, fallback to
a public notice, alerts, regulator reports) hang off them instead of scattered calls."""

from __future__ import annotations

from dataclasses import dataclass


class Event:
    """Base of every domain event."""

    incident_id: str


@dataclass(frozen=True, slots=True)
class IncidentRaised(Event):
    incident_id: str


@dataclass(frozen=True, slots=True)
class IncidentEnriched(Event):
    incident_id: str
    affected: int


@dataclass(frozen=True, slots=True)
class ClockRecorded(Event):
    incident_id: str
    name: str


@dataclass(frozen=True, slots=True)
class NoticesSettled(Event):
    """Notices of an incident reached a final state in one batch (sent, or unreachable).
    One event per incident per batch: the hot path pays one check, not one per notice."""

    incident_id: str
    sent: int


@dataclass(frozen=True, slots=True)
class ChainExhausted(Event):
    """Every channel of a person's fallback chain failed or had no usable contact point."""

    incident_id: str
    person_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class IncidentSettled(Event):
    """No notice of the incident is pending any more."""

    incident_id: str


@dataclass(frozen=True, slots=True)
class ReceiptReceived(Event):
    """A provider, bounce report or print house said what became of a delivery."""

    incident_id: str
    idempotency_key: str
    status: str
    source: str


@dataclass(frozen=True, slots=True)
class ConfirmationReceived(Event):
    """The recipient confirmed they received the notice (a link, a keypress)."""

    incident_id: str
    idempotency_key: str
    source: str
