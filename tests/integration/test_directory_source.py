"""The live directory: a read-only SQL source with its own column names, paged by keyset with
the scope as bound parameters, its rows cached into person/contact_point at enrichment; a bad
row is a problem of that person, never a crash. The source is PostgreSQL; our database SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.db import create_schema, make_engine
from incident.adapters.directory_source import SqlDirectory
from incident.adapters.tables import AffectedPerson, ContactPoint, Incident, Person
from incident.errors import ConfigError
from incident.service.enrich import EnrichContext, enrich_incident
from tests.support.publishers import ListPublisher

NOW = datetime(2026, 3, 1, tzinfo=UTC)
COLUMNS = {
    "id": "user_uuid", "name": "display_name", "email": "mail", "country": "cc",
    "region": "state", "birth_date": "dob", "guardian_id": "parent_uuid",
    "created_at": "signed_up",
}  # fmt: skip
QUERY = (
    "SELECT user_uuid, display_name, mail, cc, state, dob, parent_uuid, signed_up"
    " FROM platform_users"
)


@pytest.fixture()
def live(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE platform_users (user_uuid text PRIMARY KEY, display_name text, "
            "mail text, cc text, state text, dob date, parent_uuid text, signed_up timestamp)"
        ))  # fmt: skip
        rows = [
            ("u1", "Anna", "anna@x.org", "US", "CA", "1980-01-01", None, "2020-01-01"),
            ("u2", "Kid", "kid@x.org", "US", "CA", "2018-05-05", "u9", "2021-01-01"),
            ("u3", "Bad", "not-an-address", "US", "CA", "1990-01-01", None, None),
            ("u4", "Tex", "tex@x.org", "US", "TX", None, None, None),
            ("u9", "Parent", "parent@x.org", "US", "NV", "1970-01-01", None, None),
        ]
        for i in range(5, 2600):  # more than one page
            rows.append((f"v{i:05d}", f"P{i}", f"p{i}@x.org", "NL", None, None, None, None))
        conn.execute(
            text("INSERT INTO platform_users VALUES (:a, :b, :c, :d, :e, :f, :g, :h)"),
            [dict(zip("abcdefgh", r, strict=True)) for r in rows],
        )
    yield engine
    engine.dispose()


@pytest.fixture()
def ours(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def source(live: Engine) -> SqlDirectory:
    return SqlDirectory(live, query=QUERY, column_map=COLUMNS, channels=("email",), page=1000)


def enrich(ours: Engine, live: Engine, scope: dict[str, object]) -> dict[str, AffectedPerson]:
    with Session(ours) as s:
        s.add(Incident(id="i1", title="t", severity="high", status="raised",
                       categories=["contact"], scope=scope, aware_at=NOW))  # fmt: skip
        s.commit()
    ctx = EnrichContext(
        ListPublisher(), "notices", {}, {"default": 18}, NOW, directory=source(live)
    )
    enrich_incident(ours, {"incident_id": "i1", "event_id": "e1"}, ctx)
    with Session(ours) as s:
        return {a.person_id: a for a in s.exec(select(AffectedPerson))}


def test_the_scope_filter_runs_in_the_source_and_rows_are_cached(
    ours: Engine, live: Engine
) -> None:
    affected = enrich(ours, live, {"regions": ["US-CA"]})
    assert sorted(affected) == ["u1", "u2", "u3"]
    # the minor is told through their guardian, fetched from the source though out of scope
    assert affected["u2"].recipient_id == "u9" and affected["u2"].is_minor
    assert "not a usable email address" in affected["u3"].contact_problems["directory"]
    with Session(ours) as s:
        assert sorted(p.id for p in s.exec(select(Person))) == ["u1", "u2", "u3", "u9"]
        points = s.exec(select(ContactPoint.person_id, ContactPoint.value)).all()
        assert ("u1", "anna@x.org") in points and not any(pid == "u3" for pid, _ in points)
        anna = s.get(Person, "u1")
        assert anna is not None and anna.region == "US-CA" and anna.birth_date == "1980-01-01"


def test_pages_through_a_large_result_by_keyset(live: Engine) -> None:
    pages = list(source(live).people_in_scope({"countries": ["NL"]}))
    assert [len(p) for p in pages] == [1000, 1000, 595]
    ids = [r.id for page in pages for r in page]
    assert ids == sorted(ids) and len(set(ids)) == 2595


def test_ids_and_dates_are_bound_parameters(live: Engine) -> None:
    got = [r.id for page in source(live).people_in_scope({"people": ["u4", "nope"]}) for r in page]
    assert got == ["u4"]
    dates = {"created_between": ["2020-06-01", "2021-12-31"]}
    assert [r.id for p in source(live).people_in_scope(dates) for r in p] == ["u2"]


def test_a_column_map_without_id_is_a_config_error(live: Engine) -> None:
    with pytest.raises(ConfigError, match="must map `id`"):
        SqlDirectory(live, query=QUERY, column_map={"name": "display_name"}, channels=())
