"""Faults in the user directory: malformed rows in scope, regions stored without their country
prefix, and scope ids the directory does not know. Each is recorded and routed around; the
incident completes and everybody reachable is told once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import AffectedPerson, AuditEvent
from incident.bootstrap import Runtime
from tests.e2e.harness import (
    approved,
    incident_spec,
    make_settings,
    people,
    raise_draft,
    raise_for,
    runtime,
    seed,
)
from tests.faults.pipeline import (
    assert_each_notified_once,
    assert_nobody_unreachable,
    assert_running,
    service,
    settle,
)
from tests.support.smtp import RecordingSMTPServer

MALFORMED = {
    "bad-date": {"birth_date": "2023-02-30"},
    "bad-country": {"country": "XX"},
    "bad-region": {"region": "ZZ-99"},
}


def _raise(rt: Runtime, scope: dict[str, Any]) -> str:
    return approved(rt, raise_draft(rt, incident_spec([], scope=scope)))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_malformed_directory_rows_are_recorded_and_their_people_still_notified(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, smtp_server)
    rows = people(20)
    for pid, fields in MALFORMED.items():
        rows.append({**people(1)[0], "id": pid, "email": f"{pid}@example.com", **fields})
    with runtime(settings) as rt:
        seed(rt, rows)
        with service(rt) as threads:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            counts = settle(rt, incident_id, 23, threads, timeout=30)
            assert_running(threads)
        assert counts.sent == 23
        assert_nobody_unreachable(rt.engine, incident_id, 23)
        with Session(rt.engine) as session:
            problems = {
                a.person_id: a.contact_problems
                for a in session.exec(
                    select(AffectedPerson).where(AffectedPerson.incident_id == incident_id)
                )
            }
            report = session.exec(
                select(AuditEvent).where(
                    AuditEvent.incident_id == incident_id, AuditEvent.kind == "incident_enriched"
                )
            ).one()
    flagged = {pid for pid, found in problems.items() if "directory" in found}
    assert flagged == set(MALFORMED), problems
    assert report.detail["malformed_rows"] == len(MALFORMED)
    assert_each_notified_once(smtp_server, [r["email"] for r in rows])


def test_people_stored_with_bare_regions_are_in_scope_and_unknown_ids_are_counted(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer
) -> None:
    settings = make_settings(sqlite_url, kafka_broker, smtp_server)
    bare = [{**r, "country": "US", "region": "CA"} for r in people(12, prefix="ca")]
    full = [{**r, "country": "US", "region": "US-CA"} for r in people(4, prefix="uc")]
    elsewhere = [{**r, "country": "US", "region": "NY"} for r in people(4, prefix="ny")]
    listed = people(6, prefix="id")
    unknown = ["nobody-1", "nobody-2", "nobody-3"]
    with runtime(settings) as rt:
        seed(rt, bare + full + elsewhere + listed)
        with service(rt) as threads:
            by_region = _raise(rt, {"regions": ["US-CA"]})
            by_id = raise_for(rt, [r["id"] for r in listed] + unknown)
            settle(rt, by_region, 16, threads, timeout=30)
            settle(rt, by_id, 6, threads, timeout=30)
            assert_running(threads)
        assert_nobody_unreachable(rt.engine, by_region, 16)
        assert_nobody_unreachable(rt.engine, by_id, 6)
        with Session(rt.engine) as session:
            report = session.exec(
                select(AuditEvent).where(
                    AuditEvent.incident_id == by_id, AuditEvent.kind == "incident_enriched"
                )
            ).one()
    assert report.detail["not_in_directory"] == 3
    assert sorted(report.detail["not_in_directory_ids"]) == unknown
    assert_each_notified_once(smtp_server, [r["email"] for r in bare + full + listed])
