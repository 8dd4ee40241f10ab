"""Several accounts of one human: one notice for the smallest id, listing every account,
within a chunk and across chunks; the merge recorded by ids. Both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import incident.adapters.directory_source as directory_source
from channels import REGISTRY
from incident.adapters.tables import AffectedPerson, AuditEvent, Incident, Notice
from incident.domain.directory_rows import parse_row
from incident.domain.model import NoticeJob
from incident.service.directory import upsert_records
from incident.service.enrich import EnrichContext, enrich_incident
from incident.service.planning import plan_batch
from tests.support.publishers import ListPublisher

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PEOPLE = [
    {"id": "a2", "name": "Ann", "country": "NL", "email": "ann@Example.ORG"},
    {"id": "a1", "name": "Ann", "country": "NL", "email": "ann@example.org"},
    {"id": "a3", "name": "Ann", "country": "NL", "phone": "+31612345678", "email": "z@x.org"},
    {"id": "b1", "name": "Bo", "country": "NL", "email": "bo@example.org",
     "phone": "+31612345678"},
    {"id": "c1", "name": "Cy", "country": "NL", "email": "cy@example.org"},
    {"id": "hk", "name": "Ho", "country": "CN", "region": "HK", "email": "ho@example.hk"},
]  # fmt: skip


def enrich(engine: Engine, incident_id: str) -> ListPublisher:
    records = [parse_row(p, line=i, channels=("email",)) for i, p in enumerate(PEOPLE, 2)]
    with Session(engine) as s:
        upsert_records(s, records)
        s.add(Incident(id=incident_id, title="t", severity="high", status="raised",
                       categories=["contact"], scope={"people": [p["id"] for p in PEOPLE]},
                       aware_at=NOW))  # fmt: skip
        s.commit()
    publisher = ListPublisher()
    # Email and SMS in use: their checks vouch for the addresses and numbers that link accounts.
    checks = {"email": REGISTRY["email"].check, "phone": REGISTRY["sms"].check}
    ctx = EnrichContext(publisher, "notices", checks, {"default": 18}, NOW)
    enrich_incident(engine, {"incident_id": incident_id, "event_id": incident_id}, ctx)
    return publisher


def stored(engine: Engine, incident_id: str) -> tuple[dict[str, Any], set[str], list[Any]]:
    with Session(engine) as s:
        affected = {
            a.person_id: a
            for a in s.exec(select(AffectedPerson).where(AffectedPerson.incident_id == incident_id))
        }
        notices = {n.addressee_id for n in s.exec(select(Notice).where(
            Notice.incident_id == incident_id))}  # fmt: skip
        merges = select(AuditEvent).where(
            AuditEvent.incident_id == incident_id, AuditEvent.kind == "recipients_merged"
        )
        audits = list(s.exec(merges))
    return affected, notices, audits


@pytest.mark.parametrize("chunk", [2000, 1])  # one chunk; one person per chunk
def test_accounts_of_one_human_get_one_notice(
    engine: Engine, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a1, a2 (same mailbox, domain case aside) are one human; a3 and b1 (same phone) another.
    In one chunk the smallest id is told; across chunks the account read first (a2: the scope
    lists it first) is, the later one joining its still-pending notice."""
    monkeypatch.setattr(directory_source, "CHUNK", chunk)
    publisher = enrich(engine, f"i{chunk}")
    affected, notices, audits = stored(engine, f"i{chunk}")
    a, other = ("a1", "a2") if chunk > 1 else ("a2", "a1")
    assert notices == {a, "a3", "c1", "hk"}
    assert sorted(pid for pid, _ in publisher.sent) == sorted([a, "a3", "c1", "hk"])
    assert affected[a].contact_problems["accounts"] == f"{a}\n{other}"
    assert affected[other].contact_problems["merged_into"] == a
    assert affected[other].recipient_id == a
    assert affected["b1"].contact_problems["merged_into"] == "a3"
    assert affected["a3"].contact_problems["accounts"] == "a3\nb1"
    assert "accounts" not in affected["c1"].contact_problems
    merged = [g for a in audits for g in a.detail["groups"]]
    assert sorted((g["representative"], tuple(g["merged"])) for g in merged) == [
        (a, (other,)),
        ("a3", ("b1",)),
    ]
    assert "@" not in json.dumps([a.detail for a in audits])  # ids, never contact values
    assert "+316" not in json.dumps([a.detail for a in audits])


def test_hong_kong_is_stored_as_its_own_jurisdiction(engine: Engine) -> None:
    enrich(engine, "ihk")
    affected, _, _ = stored(engine, "ihk")
    assert affected["hk"].jurisdiction == "HK" and affected["a1"].jurisdiction == "NL"


def test_the_notice_lists_every_affected_account(engine: Engine) -> None:
    """Planning gives the merged notice's delivery the accounts; a single one lists none."""
    enrich(engine, "ip")
    jobs = [NoticeJob("ip", pid, 1, "person") for pid in ("a1", "c1")]
    with Session(engine) as s:
        plan = plan_batch(s, jobs, kinds={"email": ("email",)}, chain=["email"], now=NOW)
    accounts = {d.subject.id: d.accounts for d in plan.deliveries}
    assert accounts == {"a1": ("a1", "a2"), "c1": ()}


def test_a_rerun_changes_nothing(engine: Engine) -> None:
    """Enrichment re-run after a crash: the same groups, no second notice, no double list."""
    enrich(engine, "ir")
    publisher = ListPublisher()
    # Email and SMS in use: their checks vouch for the addresses and numbers that link accounts.
    checks = {"email": REGISTRY["email"].check, "phone": REGISTRY["sms"].check}
    ctx = EnrichContext(publisher, "notices", checks, {"default": 18}, NOW)
    enrich_incident(engine, {"incident_id": "ir", "event_id": "ir-again"}, ctx)
    affected, notices, _ = stored(engine, "ir")
    assert notices == {"a1", "a3", "c1", "hk"}
    assert affected["a1"].contact_problems["accounts"] == "a1\na2"
