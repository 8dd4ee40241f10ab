"""Queue messages: a well-formed one parses, anything else is `MalformedMessage` with a reason
(the workers dead-letter it), never another exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.domain.messages import (
    IncidentEvent,
    ParsedJob,
    encode_job,
    job_message,
    parse_incident_event,
    parse_notice_job,
)
from incident.domain.model import NoticeJob
from incident.errors import MalformedMessage

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
JOB = {"incident_id": "I1", "addressee_id": "p1", "notice_version": 1}
EVENT = {"type": "IncidentRaised", "event_id": "I1:v1", "incident_id": "I1", "notice_version": 1}
FUZZ = settings(max_examples=200, deadline=500, suppress_health_check=[HealthCheck.too_slow])


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_a_well_formed_retry_job_parses_with_its_due_time() -> None:
    """A retry job carries its due time; re-queuing it gives the same payload back."""
    value = {**JOB, "not_before": "2026-03-06T13:00:00+00:00"}
    parsed = parse_notice_job(b"p1", encode(value), now=NOW)
    assert parsed.job.incident_id == "I1" and parsed.job.notice_version == 1
    assert parsed.not_before == datetime(2026, 3, 6, 13, 0, tzinfo=UTC)
    assert parsed.payload() == value


def test_every_job_the_codec_writes_parses_back_to_the_same_job() -> None:
    due = datetime(2026, 3, 6, 13, 0, tzinfo=UTC)
    for job in (NoticeJob("I1", "p1", 2), NoticeJob("I1", "public", 1, "public")):
        key, value = encode_job(job, not_before=due)
        assert key == job.addressee_id
        parsed = parse_notice_job(key.encode(), encode(value), now=NOW)
        assert parsed.job == job and parsed.not_before == due
    assert job_message("I1", "p1", 1)[1] == JOB


def test_a_message_written_before_the_rename_still_parses() -> None:
    """Messages on the topic from before `person_id` became `addressee_id` are read too."""
    legacy = {"incident_id": "I1", "person_id": "p1", "notice_version": 1}
    assert parse_notice_job(None, encode(legacy), now=NOW).job == NoticeJob("I1", "p1", 1)


def test_a_first_job_has_no_due_time() -> None:
    assert parse_notice_job(None, encode(JOB), now=NOW) == ParsedJob(
        parse_notice_job(None, encode(JOB)).job, None
    )


def test_an_incident_event_parses() -> None:
    event = parse_incident_event(encode(EVENT))
    assert event == IncidentEvent("IncidentRaised", "I1:v1", "I1", 1)
    assert event.payload() == EVENT


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b'{"a": NaN}', "not JSON"),
        (encode(["I1", "p1"]), "not an object"),
        (encode("I1"), "not an object"),
        (encode({"addressee_id": "p1"}), "missing field 'incident_id'"),
        (encode({**JOB, "incident_id": 7}), "incident_id 7 is not a string"),
        (encode({**JOB, "addressee_id": ["p1"]}), "is not a string"),
        (encode({**JOB, "addressee_id": "  "}), "addressee_id is empty"),
        (encode({**JOB, "addressee_id": "p\n1"}), "is not an id"),
        (encode({**JOB, "notice_version": "one"}), "not a positive whole number"),
        (encode({**JOB, "notice_version": 0}), "not a positive whole number"),
        (encode({**JOB, "notice_version": True}), "not a positive whole number"),
        (encode({**JOB, "notice_version": 1.5}), "not a positive whole number"),
        (encode({**JOB, "not_before": "2026-03-06T12:00:00"}), "no UTC offset"),
        (encode({**JOB, "not_before": "soon"}), "not an ISO 8601 instant"),
        (encode({**JOB, "not_before": 1_800_000_000}), "not an ISO 8601 instant"),
        (encode({**JOB, "not_before": "2026-04-06T12:00:01+00:00"}), "more than 30 days ahead"),
        (encode({**JOB, "not_before": "9999-12-31T23:59:59-12:00"}), "more than 30 days ahead"),
    ],
)
def test_a_malformed_job_is_refused_with_its_reason(value: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_notice_job(b"p1", value, now=NOW)


def test_a_key_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="key is not UTF-8"):
        parse_notice_job(b"\xc3", encode(JOB), now=NOW)


def test_a_due_time_just_inside_the_horizon_is_accepted() -> None:
    at = NOW + timedelta(days=30)
    value = encode({**JOB, "not_before": at.isoformat()})
    assert parse_notice_job(None, value, now=NOW).not_before == at


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "IncidentDeleted"}, "type 'IncidentDeleted' is not one of"),
        ({"type": None}, "type None is not one of"),
        ({"event_id": ""}, "event_id is empty"),
        ({"incident_id": {"id": "I1"}}, "is not a string"),
        ({"notice_version": -1}, "not a positive whole number"),
    ],
)
def test_a_malformed_incident_event_is_refused(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_incident_event(encode({**EVENT, **change}))


def test_an_incident_event_without_an_id_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="missing field 'event_id'"):
        parse_incident_event(encode({k: v for k, v in EVENT.items() if k != "event_id"}))


# --- properties -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
instants = st.datetimes(
    timezones=st.sampled_from([UTC, None]) | st.timezones(), allow_imaginary=False
).map(lambda d: d.isoformat())
field_values = json_values | instants | st.sampled_from(["", " ", "I1", 0, 1, -1, 2**40])


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with fields dropped, retyped or added at random."""
    keys = [*base, "not_before"]
    return st.tuples(
        st.dictionaries(st.sampled_from(keys), field_values, max_size=3),
        st.sets(st.sampled_from(keys), max_size=2),
    ).map(lambda t: {k: v for k, v in {**base, **t[0]}.items() if k not in t[1]})


def only_malformed(parse: Any, *args: Any) -> object | None:
    try:
        return parse(*args)
    except MalformedMessage as exc:
        assert exc.reason
        return None


@FUZZ
@given(st.binary(max_size=200), st.none() | st.binary(max_size=20))
def test_random_bytes_never_crash_the_parsers(value: bytes, key: bytes | None) -> None:
    only_malformed(parse_notice_job, key, value)
    only_malformed(parse_incident_event, value)


@FUZZ
@given(json_values)
def test_any_json_value_parses_or_is_malformed(value: Any) -> None:
    only_malformed(parse_notice_job, None, encode(value))
    only_malformed(parse_incident_event, encode(value))


@FUZZ
@given(mutated(JOB))
def test_a_mutated_job_parses_to_a_valid_job_or_is_malformed(value: dict[str, Any]) -> None:
    parsed = only_malformed(parse_notice_job, b"p1", encode(value))
    if isinstance(parsed, ParsedJob):
        assert parsed.job.incident_id.strip() and parsed.job.addressee_id.strip()
        assert parsed.job.notice_version > 0
        due = parsed.not_before
        assert due is None or (
            due.utcoffset() is not None and due <= datetime.now(UTC) + timedelta(days=31)
        )
        assert parse_notice_job(None, encode(parsed.payload())) == parsed


@FUZZ
@given(mutated(EVENT))
def test_a_mutated_event_parses_to_a_valid_event_or_is_malformed(value: dict[str, Any]) -> None:
    event = only_malformed(parse_incident_event, encode(value))
    if isinstance(event, IncidentEvent):
        assert event.incident_id.strip() and event.event_id.strip() and event.notice_version > 0
        assert parse_incident_event(encode(event.payload())) == event
