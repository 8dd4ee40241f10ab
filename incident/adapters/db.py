"""Engine creation and schema setup for PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

import incident.adapters.obligation_tables  # noqa: F401  (registers its table)
from incident.adapters import tables
from incident.adapters.tables import SCHEMA_VERSION, SchemaInfo
from incident.errors import SchemaVersionMismatch


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    """An engine for `url`; `schema` puts every table in that PostgreSQL schema."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    options: dict[str, Any] = {"pool_pre_ping": True}
    if schema:
        options["connect_args"] = {"options": f"-csearch_path={schema}"}
    return create_engine(url, **options)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the relay, enricher and dispatcher read while one of them writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_schema(engine: Engine) -> None:
    """Create missing tables, stamp the schema version, refuse a database of another version."""
    assert tables.SCHEMA_VERSION  # the import registers every table on SQLModel.metadata
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        info = session.exec(select(SchemaInfo)).first()
        if info is None:
            session.add(SchemaInfo(id=1, version=SCHEMA_VERSION))
            session.commit()
        elif info.version != SCHEMA_VERSION:
            raise SchemaVersionMismatch(info.version, SCHEMA_VERSION)


def insert_ignoring_duplicates(
    session: Session, table: type[SQLModel], rows: list[dict[str, Any]]
) -> None:
    """Bulk INSERT ... ON CONFLICT DO NOTHING on either engine: re-running a step is harmless."""
    if not rows:
        return
    sa_table = table.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(sa_table).on_conflict_do_nothing(), rows)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(sa_table).on_conflict_do_nothing(), rows)
