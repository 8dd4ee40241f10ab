"""Schema migrations: a 0.1.0 database keeps its rows, head matches the models, and a database
the code does not match is refused. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from incident.adapters.db import (
    ensure_schema_current,
    make_engine,
    schema_state,
    upgrade,
    upgrade_to_head,
)
from incident.adapters.migrations import BASELINE, script_directory
from incident.adapters.tables import ContactPoint, DeliveryAttempt, Incident, Notice, Person
from incident.entrypoints.cli import app
from incident.errors import SchemaRevisionMismatch, SchemaVersionMismatch
from tests.conftest import POSTGRES_DSN
from tests.support.release_v1 import (
    AT,
    create_release_v1_database,
    dump,
    insert_rows,
    reflect,
    release_v1_rows,
)

HEADS = tuple(script_directory().get_heads())
REVISIONS = len(list(script_directory().walk_revisions()))


@pytest.fixture()
def db(database_url: str) -> Iterator[Engine]:
    """An empty database (SQLite file or PostgreSQL schema)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def other_db(db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A second empty database on the same engine kind as `db`."""
    if db.dialect.name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"bn_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    engine = make_engine(f"{POSTGRES_DSN}?options=-csearch_path%3D{schema}")
    yield engine
    engine.dispose()
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def alembic_heads(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def schema_info_version(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT version FROM schema_info")).scalar_one())


def test_a_release_database_is_stamped_and_upgraded_with_every_row_kept(db: Engine) -> None:
    create_release_v1_database(db)
    rows = release_v1_rows()
    insert_rows(db, rows)
    before = dump(db, list(rows))

    state = upgrade_to_head(db)

    assert state.at_head and alembic_heads(db) == HEADS
    after = dump(db, list(rows))
    moved = {"email", "phone", "postal_address"}  # 0002: contact details became rows
    for table, table_rows in before.items():
        columns = [c for c in table_rows[0] if not (table == "person" and c in moved)]
        kept = [{column: row[column] for column in columns} for row in after[table]]
        expected = [{column: row[column] for column in columns} for row in table_rows]
        assert kept == expected, f"rows of {table} changed by the upgrade"
    with Session(db) as session:
        points = session.exec(select(ContactPoint)).all()
    expected_points = {
        (str(p["id"]), kind, str(p[column]))
        for p in before["person"]
        for kind, column in (("email", "email"), ("phone", "phone"))
        if p.get(column)
    }
    assert expected_points <= {(c.person_id, c.kind, c.value) for c in points}
    assert all(p.addressee_id == p.person_id for p in _all(db, Notice))
    assert schema_info_version(db) == REVISIONS  # 0.1.0 refuses the database once past 1
    with Session(db) as session:  # today's models read what 0.1.0 wrote
        incident = session.get(Incident, "inc-1")
        assert incident is not None and incident.aware_at == AT
        minor = session.get(Person, "minor-1")
        assert minor is not None and minor.guardian_id == "guardian-1"
        attempt = session.get(DeliveryAttempt, "inc-1:minor-1:email:1")
        assert attempt is not None and attempt.sent_at == AT


def _all(db: Engine, model: type[Any]) -> list[Any]:
    with Session(db) as session:
        return list(session.exec(select(model)).all())


def test_upgrading_again_changes_nothing(db: Engine) -> None:
    create_release_v1_database(db)
    upgrade_to_head(db)
    assert upgrade_to_head(db).at_head and alembic_heads(db) == HEADS


def test_the_baseline_creates_exactly_the_schema_of_release_0_1_0(
    db: Engine, other_db: Engine
) -> None:
    upgrade(db, BASELINE)
    create_release_v1_database(other_db)
    with other_db.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), reflect(db))
    assert [d for d in diff if "alembic_version" not in repr(d)] == []


def test_a_fresh_database_at_head_has_exactly_the_tables_of_the_models(db: Engine) -> None:
    upgrade_to_head(db)
    with db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == [], (
        "the models and the migrations disagree; add a revision "
        "(see incident/adapters/migrations/__init__.py): " + repr(diff)
    )


def test_a_database_ahead_of_the_code_is_refused_even_with_auto_upgrade(db: Engine) -> None:
    upgrade_to_head(db)
    with db.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999_from_the_future'"))

    attempts: list[Callable[[], object]] = [
        partial(ensure_schema_current, db, auto_upgrade=True),
        partial(upgrade_to_head, db),
    ]
    for attempt in attempts:
        with pytest.raises(SchemaRevisionMismatch) as refused:
            attempt()
        assert str(refused.value).startswith(
            f"database at revision 0999_from_the_future, code expects {', '.join(HEADS)}: "
        )
    assert alembic_heads(db) == ("0999_from_the_future",)


def test_a_database_behind_is_refused_without_auto_upgrade_and_upgraded_with_it(
    db: Engine,
) -> None:
    with pytest.raises(SchemaRevisionMismatch) as refused:
        ensure_schema_current(db, auto_upgrade=False)
    assert str(refused.value) == (
        f"database at revision <empty>, code expects {', '.join(HEADS)}: "
        "run `breachnotice db upgrade`"
    )
    assert ensure_schema_current(db, auto_upgrade=True).at_head
    assert ensure_schema_current(db, auto_upgrade=False).at_head


def test_a_release_database_of_another_schema_version_is_refused(db: Engine) -> None:
    create_release_v1_database(db)
    with db.begin() as connection:
        connection.execute(text("UPDATE schema_info SET version = 7"))
    with pytest.raises(SchemaVersionMismatch):
        upgrade_to_head(db)


def test_tables_of_ours_without_a_version_marker_are_refused_not_overwritten(
    db: Engine,
) -> None:
    with db.begin() as connection:
        connection.execute(text("CREATE TABLE person (id VARCHAR PRIMARY KEY)"))
    with pytest.raises(SchemaRevisionMismatch, match="not a breachnotice database"):
        upgrade_to_head(db)
    assert set(reflect(db).tables) == {"person"}


def test_upgrades_started_together_run_one_after_the_other(db: Engine) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade_to_head(db)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and alembic_heads(db) == HEADS


def test_db_upgrade_and_db_current_on_the_command_line(
    database_url: str, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)
    runner = CliRunner()

    behind = runner.invoke(app, ["db", "current"])
    assert behind.exit_code == 0, behind.output
    assert behind.stdout.strip() == (
        f"<empty> (behind head {', '.join(HEADS)}: run `breachnotice db upgrade`)"
    )
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    current = runner.invoke(app, ["db", "current"])
    assert current.stdout.strip() == f"{', '.join(HEADS)} (head)"
    assert schema_state(db).at_head
