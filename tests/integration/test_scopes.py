"""Scopes resolved at enrichment: ids inline or in a file, forensic records with per-person
categories, directory filters by place and dates, unions and intersections; each affected
person carries their categories and risk; keys matching nobody are reported. Both engines."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.tables import AffectedPerson, AuditEvent, Incident
from incident.domain.directory_rows import parse_row
from incident.domain.incident_spec import Scope
from incident.service.directory import upsert_records
from incident.service.enrich import EnrichContext, enrich_incident
from tests.support.publishers import ListPublisher

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PEOPLE = [
    {"id": "nl1", "name": "A", "country": "NL", "email": "a@x.org", "created_at": "2020-01-01"},
    {"id": "nl2", "name": "B", "country": "NL", "phone": "+31612345678",
     "created_at": "2023-06-01"},
    {"id": "ca1", "name": "C", "country": "US", "region": "CA", "last_active_at": "2025-12-24"},
    {"id": "tx1", "name": "D", "country": "US", "region": "US-TX", "email": "d@x.org"},
]  # fmt: skip


@pytest.fixture()
def directory(engine: Engine) -> Engine:
    records = [parse_row(p, line=i, channels=("email",)) for i, p in enumerate(PEOPLE, 2)]
    with Session(engine) as s:
        upsert_records(s, records)
        s.commit()
    return engine


def enrich(engine: Engine, scope: Mapping[str, Any], n: list[int] = [0]) -> dict[str, Any]:  # noqa: B006
    n[0] += 1
    incident_id = f"inc{n[0]}"
    stored = Scope.model_validate(scope).model_dump(exclude_none=True)
    with Session(engine) as s:
        cats = ["contact", "credentials"]
        s.add(Incident(id=incident_id, title="t", severity="high", status="raised",
                       categories=cats, scope=stored, aware_at=NOW))  # fmt: skip
        s.commit()
    ctx = EnrichContext(ListPublisher(), "notices", {}, {"default": 18}, NOW)
    enrich_incident(engine, {"incident_id": incident_id, "event_id": incident_id}, ctx)
    with Session(engine) as s:
        rows = s.exec(select(AffectedPerson).where(AffectedPerson.incident_id == incident_id))
        affected = {r.person_id: (r.categories, r.risk) for r in rows}
        audit = s.exec(select(AuditEvent).where(AuditEvent.incident_id == incident_id)).one()
    return {"affected": affected, "report": audit.detail}


def test_filters_by_place_and_dates(directory: Engine) -> None:
    got = enrich(directory, {"regions": ["US-CA", "US-TX"]})
    assert sorted(got["affected"]) == ["ca1", "tx1"]
    assert got["affected"]["ca1"] == (["contact", "credentials"], "high")
    got = enrich(directory, {"created_between": ["2023-01-01", "2023-06-01"]})
    assert sorted(got["affected"]) == ["nl2"]
    got = enrich(directory, {"countries": ["BE"]})
    assert got["affected"] == {} and got["report"]["filters_matching_nobody"] == [
        "countries=['BE']"
    ]


def test_ids_from_a_file_and_missing_ones_reported(directory: Engine, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("nl1\nghost\nnl1\n\nca1\n")
    got = enrich(directory, {"people_file": str(ids)})
    assert sorted(got["affected"]) == ["ca1", "nl1"]
    assert got["report"]["not_in_directory"] == 1
    assert got["report"]["not_in_directory_ids"] == ["ghost"]


def test_forensic_records_give_each_person_their_categories(
    directory: Engine, tmp_path: Path
) -> None:
    records = tmp_path / "records.csv"
    records.write_text(
        "key_type,key,categories\n"
        "email,a@x.org,contact\n"
        "id,nl1,payment\n"  # a second record of the same person
        "phone,+31612345678,contact\n"
        "email,nobody@x.org,health\n"
        "id,ghost,contact\n"
    )
    got = enrich(directory, {"records_file": str(records)})
    assert got["affected"] == {
        "nl1": (["contact", "payment"], "high"), "nl2": (["contact"], "low")
    }  # fmt: skip
    assert got["report"]["unmatched_records"] == 2
    assert sorted(got["report"]["unmatched_record_keys"]) == ["email:nobody@x.org", "ghost"]
    only = enrich(directory, {"records_file": str(records), "has_categories": ["payment"]})
    assert list(only["affected"]) == ["nl1"]


def test_unions_and_intersections(directory: Engine, tmp_path: Path) -> None:
    records = tmp_path / "records.csv"
    records.write_text("key_type,key,categories\nid,nl1,contact\nid,tx1,contact\n")
    union = enrich(directory, {"any_of": [{"people": ["ca1"]}, {"records_file": str(records)}]})
    assert sorted(union["affected"]) == ["ca1", "nl1", "tx1"]
    assert union["affected"]["nl1"] == (["contact"], "low")
    assert union["affected"]["ca1"] == (["contact", "credentials"], "high")
    both = enrich(directory, {"all_of": [{"records_file": str(records)}, {"countries": ["US"]}]})
    assert both["affected"] == {"tx1": (["contact"], "low")}
    sql_only = enrich(directory, {"all_of": [{"countries": ["US"]}, {"regions": ["US-TX"]}]})
    assert list(sql_only["affected"]) == ["tx1"]


@pytest.mark.parametrize(
    ("scope", "says"),
    [
        ({"people": ["p1"], "countries": ["NL"]}, "exactly one of"),
        ({"any_of": [{"people": ["p1"]}]}, "at least two"),
        ({"people_file": "/no/such/file"}, "not a readable file"),
        ({"created_between": ["2024-02-30", "2024-03-01"]}, "YYYY-MM-DD"),
        ({"active_between": ["2024-03-02", "2024-03-01"]}, "from on or before to"),
        ({"countries": ["NL"], "has_categories": ["payment"]}, "records_file"),
    ],
)
def test_bad_scopes_are_refused_precisely(scope: dict[str, Any], says: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=says):
        Scope.model_validate(scope)


def test_a_records_file_needs_its_header(tmp_path: Path) -> None:
    from pydantic import ValidationError

    bad = tmp_path / "r.csv"
    bad.write_text("email,categories\n")
    with pytest.raises(ValidationError, match="key_type,key,categories"):
        Scope.model_validate({"records_file": str(bad)})


def test_obligation_facts_count_persons_per_jurisdiction_and_category(
    directory: Engine, tmp_path: Path
) -> None:
    from incident.obligations import load_rules, parse_facts
    from incident.service.obligations import facts_data, recompute_obligations

    records = tmp_path / "records.csv"
    records.write_text("key_type,key,categories\nid,nl1,contact;payment\nid,nl2,contact\n")
    enrich(directory, {"any_of": [{"records_file": str(records)}, {"people": ["ca1"]}]})
    rules = load_rules()
    with Session(directory) as s:
        incident = s.exec(select(Incident).order_by(Incident.created_at.desc())).first()  # type: ignore[attr-defined]
        assert incident is not None
        data = facts_data(s, incident, rules)
        assert data["affected_by_category"] == {
            "NL": {"contact": 2, "payment": 1}, "US-CA": {"contact": 1, "credentials": 1}
        }  # fmt: skip
        facts = parse_facts(data, rules.flags)
        assert facts.affected_by_category["NL"]["payment"] == 1
        assert recompute_obligations(s, incident.id, now=NOW, rules=rules)
