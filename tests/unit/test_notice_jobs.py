"""Notice jobs read from the queue: anything malformed is refused with a reason (dead letter)."""

from __future__ import annotations

import json

import pytest

from incident.adapters.kafka_bus import Record
from incident.entrypoints.workers import parse_job


def record(value: object) -> Record:
    return Record("notices", 0, 7, "p1", json.dumps(value).encode())


def test_a_well_formed_retry_job_parses_with_its_due_time() -> None:
    job, payload, due = parse_job(
        record(
            {
                "incident_id": "I1",
                "person_id": "p1",
                "notice_version": 1,
                "not_before": "2026-03-06T12:00:00+00:00",
            }
        )
    )
    assert (job.incident_id, job.person_id, job.notice_version) == ("I1", "p1", 1)
    assert due is not None and due.utcoffset() is not None
    assert payload["person_id"] == "p1"


@pytest.mark.parametrize(
    "value",
    [
        ["I1", "p1"],
        "I1",
        {"person_id": "p1"},
        {"incident_id": "I1", "person_id": "p1", "notice_version": "one"},
    ],
)
def test_a_job_that_is_not_a_complete_object_is_refused(value: object) -> None:
    with pytest.raises((TypeError, KeyError, ValueError)):
        parse_job(record(value))


def test_a_due_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_job(
            record(
                {
                    "incident_id": "I1",
                    "person_id": "p1",
                    "notice_version": 1,
                    "not_before": "2026-03-06T12:00:00",
                }
            )
        )
