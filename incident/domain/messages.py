"""Reading the queue's messages: pure functions from bytes to domain values.

`parse_notice_job` reads the `notices` / `notices.retry` topics, `parse_incident_event` the
`incidents` topic. Anything else raises `MalformedMessage(reason)`, which the workers dead-letter:
not UTF-8, not JSON, not an object, a missing or wrong-typed field, an empty id, a
`notice_version` that is not a positive whole number, a `not_before` that is not an ISO 8601
instant with offset or lies more than `MAX_DELAY` ahead (it would park a job for good).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from incident.domain.model import AddresseeKind, NoticeJob
from incident.errors import MalformedMessage, clipped

MAX_DELAY = timedelta(days=30)
# Messages written before the field was named for what it holds (any addressee's id) may still
# be on the topic after an upgrade: read them too.
LEGACY_ADDRESSEE = "person_id"
MAX_ID_LENGTH = 200
MAX_VERSION = 2**31 - 1  # an INTEGER column
# IncidentRaised: enrich (a draft: store who is affected, send nothing); IncidentApproved: the
# second person approved a draft, queue its notices.
INCIDENT_EVENT_TYPES = frozenset({"IncidentRaised", "IncidentApproved"})


@dataclass(frozen=True, slots=True)
class ParsedJob:
    """A notice job and, for a retry, the instant before which it must not be sent."""

    job: NoticeJob
    not_before: datetime | None = None

    def payload(self) -> dict[str, Any]:
        """The message again, as the dispatcher publishes it (to re-queue a job not yet due)."""
        return encode_job(self.job, not_before=self.not_before)[1]


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """An incident to enrich: published by the outbox relay and by recovery."""

    type: str
    event_id: str
    incident_id: str
    notice_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "event_id": self.event_id,
            "incident_id": self.incident_id,
            "notice_version": self.notice_version,
        }


def job_message(
    incident_id: str,
    addressee_id: str,
    notice_version: int,
    addressee_kind: str = "person",
    *,
    not_before: datetime | None = None,
    reason: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The one writer of the notice-job message: (Kafka key, value). Every producer (enrich,
    the outbox, the dispatcher's re-queues, the sweep, callbacks) goes through here, so the
    format has one definition; `parse_notice_job` is its reader. Plain arguments, no objects:
    enrichment writes one per person."""
    data: dict[str, Any] = {
        "incident_id": incident_id,
        "addressee_id": addressee_id,
        "notice_version": notice_version,
    }
    if addressee_kind != "person":
        data["addressee_kind"] = addressee_kind
    if not_before is not None:
        data["not_before"] = not_before.isoformat()
    if reason is not None:
        data["reason"] = reason
    return addressee_id, data


def encode_job(
    job: NoticeJob, *, not_before: datetime | None = None, reason: str | None = None
) -> tuple[str, dict[str, Any]]:
    return job_message(
        job.incident_id,
        job.addressee_id,
        job.notice_version,
        job.addressee_kind,
        not_before=not_before,
        reason=reason,
    )


def parse_notice_job(key: bytes | None, value: bytes, *, now: datetime | None = None) -> ParsedJob:
    """A notice job; `now` (default: the current time) bounds how far ahead `not_before` may be."""
    if key is not None:
        _text(key, "key")
    data = _object(value)
    kind = data.get("addressee_kind", AddresseeKind.PERSON)
    if kind not in {k.value for k in AddresseeKind}:
        raise MalformedMessage(
            f"addressee_kind {clipped(kind)!r} is not one of "
            f"{sorted(k.value for k in AddresseeKind)}"
        )
    job = NoticeJob(
        _id(data, "incident_id"),
        _id(data, "addressee_id" if "addressee_id" in data else LEGACY_ADDRESSEE),
        _version(data, "notice_version"),
        str(kind),
    )
    return ParsedJob(job, _not_before(data.get("not_before"), now or datetime.now(UTC)))


def parse_incident_event(value: bytes) -> IncidentEvent:
    data = _object(value)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in INCIDENT_EVENT_TYPES:
        raise MalformedMessage(
            f"type {clipped(kind)!r} is not one of {sorted(INCIDENT_EVENT_TYPES)}"
        )
    return IncidentEvent(
        kind, _id(data, "event_id"), _id(data, "incident_id"), _version(data, "notice_version")
    )


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"{what} is not UTF-8 (byte offset {exc.start})") from None


def _object(value: bytes) -> dict[str, Any]:
    text = _text(value, "value")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise MalformedMessage("value is not JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or a number of more than 4300 digits
        raise MalformedMessage(f"value is not JSON: {str(exc).split(';', 1)[0]}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"value is a JSON {type(data).__name__}, not an object")
    return data


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON number")


def _id(data: dict[str, Any], name: str) -> str:
    if name not in data:
        raise MalformedMessage(f"missing field {name!r}")
    value = data[name]
    if not isinstance(value, str):
        raise MalformedMessage(f"{name} {clipped(value)!r} is not a string")
    if not value.strip():
        raise MalformedMessage(f"{name} is empty")
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        rule = f"printable, at most {MAX_ID_LENGTH} characters"
        raise MalformedMessage(f"{name} {clipped(value)!r} is not an id ({rule})")
    return value


def _version(data: dict[str, Any], name: str) -> int:
    if name not in data:
        raise MalformedMessage(f"missing field {name!r}")
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_VERSION:
        raise MalformedMessage(f"{name} {clipped(value)!r} is not a positive whole number")
    return value


def _not_before(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    rule = "is not an ISO 8601 instant with offset, e.g. 2026-03-06T16:00:00+01:00"
    if not isinstance(value, str):
        raise MalformedMessage(f"not_before {clipped(value)!r} {rule}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedMessage(f"not_before {clipped(value)!r} {rule}") from None
    if at.utcoffset() is None:
        raise MalformedMessage(f"not_before {clipped(value)!r} has no UTC offset")
    try:
        too_late = at - now > MAX_DELAY
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the first instant
        raise MalformedMessage(f"not_before {clipped(value)!r} is out of range") from None
    if too_late:
        raise MalformedMessage(
            f"not_before {value!r} is more than {MAX_DELAY.days} days ahead: it would park the job"
        )
    return at
