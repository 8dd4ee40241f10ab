"""Where a database stands against the revisions this build ships, and moving it forward.

Both functions take a connection inside a transaction the caller owns (and has locked, see
`incident.adapters.db.upgrade_to_head`): nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from incident.adapters.migrations import BASELINE, alembic_config, script_directory
from incident.errors import SchemaRevisionMismatch, SchemaVersionMismatch

# What release 0.1.0 wrote in schema_info.version; it had no alembic_version table.
RELEASE_SCHEMA_VERSION = 1
RELEASE_TABLES = frozenset(
    {
        "affected_person",
        "audit_event",
        "delivery_attempt",
        "incident",
        "incident_clock",
        "notice",
        "obligation",
        "outbox",
        "person",
        "processed_event",
        "schema_info",
    }
)


@dataclass(frozen=True)
class SchemaState:
    current: tuple[str, ...]  # the database's revisions; () for an empty database
    heads: tuple[str, ...]  # the newest revisions this build ships
    unknown: tuple[str, ...]  # revisions of the database this build does not ship: it is ahead
    unstamped_release: bool  # made by 0.1.0: at the baseline, without alembic_version

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.heads)

    def found(self) -> str:
        if not self.current:
            return "<empty>"
        revisions = ", ".join(self.current)
        return f"{revisions} (release 0.1.0, unstamped)" if self.unstamped_release else revisions

    def expected(self) -> str:
        return ", ".join(self.heads)


def read_state(connection: Connection) -> SchemaState:
    """The database's revision; a 0.1.0 database counts as at the baseline."""
    heads = tuple(script_directory().get_heads())
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables:
        current = tuple(MigrationContext.configure(connection).get_current_heads())
        return SchemaState(current, heads, _unknown(current), unstamped_release=False)
    if "schema_info" in tables:
        _check_release_database(connection, tables, heads)
        return SchemaState((BASELINE,), heads, (), unstamped_release=True)
    if tables & RELEASE_TABLES:
        raise SchemaRevisionMismatch(
            "<none>",
            ", ".join(heads),
            f"tables {', '.join(sorted(tables & RELEASE_TABLES))} exist without alembic_version "
            "or schema_info, so this is not a breachnotice database; point "
            "BREACHNOTICE_DATABASE_URL at an empty database or a breachnotice one",
        )
    return SchemaState((), heads, (), unstamped_release=False)


def migrate(connection: Connection, target: str) -> SchemaState:
    """Stamp a 0.1.0 database at the baseline, upgrade to `target`, keep schema_info in step."""
    state = read_state(connection)
    if state.unknown:
        raise ahead_error(state)
    config = alembic_config(connection)
    if state.unstamped_release:
        command.stamp(config, BASELINE)
    command.upgrade(config, target)
    _record_schema_version(connection)
    return read_state(connection)


def ahead_error(state: SchemaState) -> SchemaRevisionMismatch:
    return SchemaRevisionMismatch(
        state.found(),
        state.expected(),
        f"revision {', '.join(state.unknown)} is unknown to this build, a newer one migrated "
        "the database; run that build (this one never downgrades a database)",
    )


def _unknown(current: tuple[str, ...]) -> tuple[str, ...]:
    script = script_directory()
    unknown = []
    for revision in current:
        try:
            known = script.get_revision(revision) is not None
        except CommandError:  # alembic's ResolutionError is one
            known = False
        if not known:
            unknown.append(revision)
    return tuple(unknown)


def _check_release_database(
    connection: Connection, tables: set[str], heads: tuple[str, ...]
) -> None:
    version = connection.execute(text("SELECT version FROM schema_info WHERE id = 1")).scalar()
    # No row: 0.1.0 stopped between create_all and writing it; the tables say the rest.
    if version is not None and version != RELEASE_SCHEMA_VERSION:
        raise SchemaVersionMismatch(int(version), RELEASE_SCHEMA_VERSION)
    missing = RELEASE_TABLES - tables
    if missing:
        raise SchemaRevisionMismatch(
            f"{BASELINE} (release 0.1.0, unstamped)",
            ", ".join(heads),
            f"tables {', '.join(sorted(missing))} of release 0.1.0 are missing; restore the "
            "database from a backup or point BREACHNOTICE_DATABASE_URL at a new one",
        )


def _record_schema_version(connection: Connection) -> None:
    """schema_info.version counts the revisions applied, so release 0.1.0, which checks only
    that number, refuses a database migrated past the baseline instead of writing into it."""
    current = MigrationContext.configure(connection).get_current_heads()
    applied = len(list(script_directory().iterate_revisions(current, "base")))
    updated = connection.execute(
        text("UPDATE schema_info SET version = :v WHERE id = 1"), {"v": applied}
    )
    if updated.rowcount == 0:
        connection.execute(
            text("INSERT INTO schema_info (id, version) VALUES (1, :v)"), {"v": applied}
        )
