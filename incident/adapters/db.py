"""Engines, schema migrations and serialised writes for PostgreSQL and SQLite.

Schema. `upgrade_to_head(engine)` runs the Alembic revisions in `incident/adapters/migrations`
(a database made by release 0.1.0 is stamped at the baseline first, never recreated);
`create_schema` is the same, for callers that predate migrations. At start, a service calls
`ensure_schema_current(engine, auto_upgrade=...)`: the embedded SQLite default upgrades itself,
a PostgreSQL database behind the code is refused until `breachnotice db upgrade` has run, and a
database ahead of the code (migrated by a newer build) is always refused.

SQLite durability. WAL, and `synchronous=FULL` by default (setting `sqlite_synchronous`): a
commit is on disk before it returns, so a Kafka offset committed after it never points past
work a power cut lost. `NORMAL` is faster (no fsync per commit, only at checkpoints) and keeps
the database consistent, but a power cut or OS crash can roll back the last commits while
their offsets stay committed: those messages are then never processed. Only for throwaway
data. A crash of the process alone loses nothing in either mode.

Serialised writes. SQLite ignores `SELECT ... FOR UPDATE`, so a read-then-write two workers
may run at once (e.g. superseding an incident's open obligation set) takes
`lock_for_update(session, select(...))`: the row lock on PostgreSQL; on SQLite it starts the
transaction with `BEGIN IMMEDIATE`, which makes it the database's only writer until it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.selectable import GenerativeSelect
from sqlmodel import Session, SQLModel, create_engine

import incident.adapters.obligation_tables  # registers its tables
import incident.adapters.operator_tables
import incident.adapters.tables  # noqa: F401  (registers its tables)
from incident.adapters import bulk
from incident.adapters.migrations.state import SchemaState, ahead_error, migrate, read_state
from incident.errors import ConfigError, SchemaRevisionMismatch

SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
# pg_advisory_xact_lock key: one migration at a time per PostgreSQL database ("bnmi").
_MIGRATION_LOCK = 0x626E6D69
_Statement = TypeVar("_Statement", bound=GenerativeSelect)


def make_engine(url: str, *, schema: str | None = None, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine for `url`; `schema` puts every table in that PostgreSQL schema."""
    if url.startswith("sqlite"):
        synchronous = sqlite_synchronous.upper()
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise ConfigError(
                "settings",
                "-",
                "sqlite_synchronous",
                f"{sqlite_synchronous!r} is not one of {', '.join(SQLITE_SYNCHRONOUS)}",
            )
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", partial(_sqlite_pragmas, synchronous))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    options: dict[str, Any] = {"pool_pre_ping": True}
    if schema:
        options["connect_args"] = {"options": f"-csearch_path={schema}"}
    return create_engine(url, **options)


def _sqlite_pragmas(synchronous: str, dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the relay, enricher and dispatcher read while one of them writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")  # one of SQLITE_SYNCHRONOUS
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def schema_state(engine: Engine) -> SchemaState:
    """The database's revision against this build's head (see `breachnotice db current`)."""
    with engine.connect() as connection:
        return read_state(connection)


def upgrade_to_head(engine: Engine) -> SchemaState:
    """Bring the database to the newest revision; one process at a time, all or nothing."""
    return upgrade(engine, "head")


def upgrade(engine: Engine, target: str) -> SchemaState:
    """Bring the database to revision `target` (tests use it to stop at the baseline)."""
    with _migration_transaction(engine) as connection:
        return migrate(connection, target)


def create_schema(engine: Engine) -> None:
    """Kept for the callers that predate migrations: the same as `upgrade_to_head`."""
    upgrade_to_head(engine)


def open_database(url: str, *, auto_upgrade: bool = False) -> Engine:
    """How every CLI command opens the database: the embedded SQLite upgrades itself; a
    PostgreSQL schema behind the code is refused until `db upgrade` (or `auto_upgrade`)."""
    engine = make_engine(url)
    try:
        check_schema(engine, auto_upgrade=auto_upgrade)
    except BaseException:
        engine.dispose()  # a refused database leaves no pooled connection behind
        raise
    return engine


def check_schema(engine: Engine, *, auto_upgrade: bool = False) -> SchemaState:
    """`ensure_schema_current`, with the embedded SQLite always allowed to upgrade."""
    return ensure_schema_current(
        engine, auto_upgrade=auto_upgrade or engine.dialect.name == "sqlite"
    )


def ensure_schema_current(engine: Engine, *, auto_upgrade: bool) -> SchemaState:
    """At start: upgrade (when allowed) or refuse a database the code does not match.

    Pass `auto_upgrade=True` for the embedded SQLite default; for PostgreSQL, leave it off so
    an operator runs `breachnotice db upgrade` once, not every worker at every start.
    """
    state = schema_state(engine)
    if state.unknown:
        raise ahead_error(state)
    if state.at_head:
        return state
    if auto_upgrade:
        return upgrade_to_head(engine)
    raise SchemaRevisionMismatch(state.found(), state.expected(), "run `breachnotice db upgrade`")


@contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for the whole upgrade, which other upgraders wait for."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            yield connection
            connection.commit()
            return
        # Batch mode copies and drops tables: foreign keys off meanwhile (SQLite ignores the
        # pragma inside a transaction), then checked before commit.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # DDL inside it; upgraders queue
            yield connection
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left dangling foreign keys: {broken[:5]}")
            connection.commit()
        finally:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def serialised(session: Session) -> None:
    """Make the session's transaction the only writer until it commits or rolls back.

    SQLite: starts the transaction with `BEGIN IMMEDIATE` (waiting up to the engine's 30 s busy
    timeout for another writer to finish). Call it before the transaction's first write and
    read what you decide on after it: rows read before it were not protected. A transaction
    that has already written holds the write lock anyway, so then it does nothing.
    PostgreSQL: does nothing; lock the rows you read with `lock_for_update`.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if getattr(connection.connection.dbapi_connection, "in_transaction", False):
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_for_update(session: Session, statement: _Statement) -> _Statement:
    """`statement` locking what it reads until the transaction ends, on either engine:

        incident = session.exec(lock_for_update(session, select(Incident).where(...))).first()

    PostgreSQL: `SELECT ... FOR UPDATE`. SQLite, which has no row locks: `serialised(session)`.
    """
    serialised(session)
    return statement.with_for_update()


def insert_ignoring_duplicates(
    session: Session, table: type[SQLModel], rows: list[dict[str, Any]]
) -> None:
    """Bulk INSERT ... ON CONFLICT DO NOTHING on either engine: re-running a step is harmless."""
    if not rows:
        return
    sa_table = table.__table__  # type: ignore[attr-defined]
    bulk.insert_ignoring_duplicates(session.connection(), sa_table, rows)
