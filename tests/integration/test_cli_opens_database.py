"""Every CLI command opens the database one way: PostgreSQL behind is refused, SQLite upgrades."""

from __future__ import annotations

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from incident.adapters.db import make_engine, schema_state, upgrade
from incident.adapters.migrations import BASELINE
from incident.entrypoints.cli import app
from incident.errors import SchemaRevisionMismatch


def _heads(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def test_a_read_only_command_refuses_a_postgresql_schema_behind_and_migrates_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only: the embedded SQLite upgrades itself")
    engine = make_engine(database_url)
    try:
        upgrade(engine, BASELINE)
        monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)
        result = CliRunner().invoke(app, ["incident", "status", "NOSUCH"])
        assert isinstance(result.exception, SchemaRevisionMismatch)
        assert "run `breachnotice db upgrade`" in str(result.exception)
        assert _heads(engine) == (BASELINE,)
    finally:
        engine.dispose()


def test_a_command_on_the_embedded_sqlite_upgrades_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)
    CliRunner().invoke(app, ["incident", "status", "NOSUCH"])
    engine = make_engine(database_url)
    try:
        assert schema_state(engine).at_head
    finally:
        engine.dispose()


def test_status_of_an_unknown_incident_says_not_found_and_exits_2(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)
    monkeypatch.setenv("BREACHNOTICE_DATABASE_AUTO_UPGRADE", "true")
    result = CliRunner().invoke(app, ["incident", "status", "NOSUCH"])
    assert result.exit_code == 2, result.output
    assert "'NOSUCH' is invalid: no such incident" in result.stderr
