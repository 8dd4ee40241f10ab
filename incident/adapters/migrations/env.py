"""Alembic environment: runs on the connection `incident.adapters.db` hands over.

There is no alembic.ini and no URL here: `alembic_config(connection)` puts an open connection,
inside the caller's transaction, in `config.attributes["connection"]`. Unqualified names, and so
`alembic_version` too, land in the connection's schema (PostgreSQL's search_path).
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import incident.adapters.obligation_tables
import incident.adapters.operator_tables  # noqa: F401  (registers its tables for autogenerate)
from incident.adapters.tables import UtcDateTime


def _render_item(kind: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Autogenerate writes plain SQLAlchemy types: revisions never import the models."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, AutoString):
        return "sa.String()" if obj.length is None else f"sa.String(length={obj.length})"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # SQLite alters most things only by copying the table: batch mode does that.
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError(
        "run migrations with `breachnotice db upgrade` or incident.adapters.db.upgrade_to_head"
    )
_run(_connection)
