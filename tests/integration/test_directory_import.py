"""Directory import: upsert by id, contact points merged by rule, bad rows reported and not
written, batches committed one by one. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.tables import ContactPoint, Person
from incident.domain.directory_rows import RowProblem
from incident.service.directory_import import ImportSummary, import_people

HEADER = "id,name,country,region,locale,birth_date,guardian_id,email,phone\n"
CHANNELS = ("email",)


def run(engine: Engine, path: Path, **kw: Any) -> tuple[ImportSummary, list[RowProblem]]:
    problems: list[RowProblem] = []
    summary = import_people(engine, path, channels=CHANNELS, on_problem=problems.append, **kw)
    return summary, problems


def points(engine: Engine, pid: str) -> list[tuple[str, str, int]]:
    with Session(engine) as s:
        rows = s.exec(
            select(ContactPoint)
            .where(ContactPoint.person_id == pid)
            .order_by(col(ContactPoint.kind), col(ContactPoint.preference))
        ).all()
        return [(p.kind, p.value, p.preference) for p in rows]


def test_a_csv_file_is_inserted_then_updated_by_id(engine: Engine, tmp_path: Path) -> None:
    """Given a new directory, When the file is imported twice with changes, Then changed
    fields are updated, untouched people are unchanged, and email sets are replaced."""
    first = tmp_path / "people.csv"
    first.write_text(
        HEADER
        + "p1,Anna,NL,,nl,1990-01-02,,a@x.org;b@x.org,+31612345678\n"
        + "p2,Bo,US,CA,en,,,bo@x.org,\n"
        + "k1,Kid,NL,,nl,2020-01-01,p9,,\n"  # guardian comes later in the file
        + "p9,Parent,NL,,nl,,,p9@x.org,\n"
    )
    summary, problems = run(engine, first, batch_size=2)
    assert problems == [] and (summary.inserted, summary.updated) == (4, 0)
    second = tmp_path / "again.csv"
    second.write_text(
        HEADER + "p1,Anna B,NL,,nl,1990-01-02,,b@x.org;c@x.org,\n" + "p2,Bo,US,CA,en,,,,\n"
    )
    summary, problems = run(engine, second)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 1)
    with Session(engine) as s:
        anna, kid, bo = s.get(Person, "p1"), s.get(Person, "k1"), s.get(Person, "p2")
        assert anna is not None and anna.name == "Anna B" and anna.birth_date == "1990-01-02"
        assert kid is not None and kid.guardian_id == "p9"
        assert bo is not None and bo.region == "US-CA"
    # emails replaced in the file's order; the phone (empty cell) is kept
    assert points(engine, "p1") == [
        ("email", "b@x.org", 0), ("email", "c@x.org", 1), ("phone", "+31612345678", 0)
    ]  # fmt: skip
    assert points(engine, "p2") == [("email", "bo@x.org", 0)]


def test_a_bad_row_is_reported_and_nothing_of_it_is_written(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        HEADER
        + "p1,Anna,NL,,nl,,,a@x.org,\n"
        + "p2,Bo,XX,,en,1990-02-30,,bo@x.org,\n"
        + "p3,Cy,NL,,nl,,nobody,,\n"
    )
    summary, problems = run(engine, path)
    assert summary.rejected == 1 and summary.inserted == 2
    assert summary.guardians_unlinked == 1 and not summary.clean
    assert {(p.line, p.field) for p in problems} == {
        (3, "country"), (3, "birth_date"), (4, "guardian_id")
    }  # fmt: skip
    with Session(engine) as s:
        assert s.get(Person, "p2") is None
        assert points(engine, "p2") == []
        cy = s.get(Person, "p3")
        assert cy is not None and cy.guardian_id is None


def test_json_lines_with_lists_and_objects(engine: Engine, tmp_path: Path) -> None:
    sub = {"endpoint": "https://push.example/s/1", "keys": {"p256dh": "k", "auth": "a"}}
    rows = [
        {"id": "p1", "name": "Anna", "country": "DE", "emails": ["a@x.de", "b@x.de"],
         "postal_address": {"street": "Hauptstr. 1", "city": "Berlin", "country": "DE"},
         "push_subscriptions": [sub], "created_at": "2021-05-01T10:00:00+02:00"},
        "not an object",
        {"id": "p2", "name": "Bo", "country": "DE", "channel_preferences": ["pigeon"]},
    ]  # fmt: skip
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n{broken\n")
    summary, problems = run(engine, path)
    assert summary.inserted == 1 and summary.rejected == 3
    assert [(p.line, p.field) for p in problems] == [
        (2, "(line)"), (3, "channel_preferences"), (5, "(line)")
    ]  # fmt: skip
    kinds = [k for k, _, _ in points(engine, "p1")]
    assert kinds == ["email", "email", "postal", "push"]
    # the same postal address again is not a second point; a new one is added after it
    path.write_text(
        json.dumps(
            {**rows[0], "postal_address": {"street": "Neu 2", "city": "Köln", "country": "DE"}}
        )
    )  # type: ignore[dict-item]
    run(engine, path)
    postal = [(v, pref) for k, v, pref in points(engine, "p1") if k == "postal"]
    assert [pref for _, pref in postal] == [0, 1] and "Neu 2" in postal[1][0]


def test_dry_run_validates_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "p1,Anna,NL,,nl,,,a@x.org,\np2,Bo,NL,,xx-yy-zz,,,,\n")
    summary, problems = run(engine, path, dry_run=True)
    assert summary.valid == 1 and summary.rejected == 1 and problems[0].field == "locale"
    with Session(engine) as s:
        assert s.get(Person, "p1") is None


def test_an_unknown_column_refuses_the_file(engine: Engine, tmp_path: Path) -> None:
    import pytest

    from incident.errors import InvalidInputs

    path = tmp_path / "people.csv"
    path.write_text("id,name,country,shoe_size\np1,Anna,NL,42\n")
    with pytest.raises(InvalidInputs, match="shoe_size"):
        run(engine, path)
