"""`breachnotice db`: the database schema, at the URL of the settings (`database_url`).

    breachnotice db upgrade                 bring the database to this build's newest revision
    breachnotice db current                 print the database's revision, and if it is head
    breachnotice db revision MSG --rev-id 0002_name   (development) autogenerate a revision

A database the build cannot take (ahead of it, made by another schema version, not a
breachnotice database) exits with code 1 and the precise message on standard error.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from incident.errors import BreachNoticeError, ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

db_app = typer.Typer(
    help="The database schema: upgrade it, show its revision.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the `db` commands to the `breachnotice` CLI."""
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Migrate the database to this build's newest revision (a 0.1.0 database keeps its rows)."""
    from incident.adapters.db import upgrade_to_head

    with _engine() as engine:
        state = upgrade_to_head(engine)
    typer.echo(f"database at revision {state.found()} (head)")


@db_app.command("current")
def current_command() -> None:
    """Print the database's revision and how it stands against this build."""
    from incident.adapters.db import schema_state

    with _engine() as engine:
        state = schema_state(engine)
    if state.unknown:
        standing = f"ahead of this build, which expects {state.expected()}"
    elif state.at_head:
        standing = "head"
    else:
        standing = f"behind head {state.expected()}: run `breachnotice db upgrade`"
    typer.echo(f"{state.found()} ({standing})")


@db_app.command("revision")
def revision_command(
    message: Annotated[str, typer.Argument(help="What the revision changes.")],
    rev_id: Annotated[str, typer.Option(help="Revision id and file name: 0002_contact_points.")],
) -> None:
    """(Development) autogenerate versions/REV_ID.py from the models; edit it, then commit.

    Compares the models with a fresh SQLite database at head; run it from a checkout.
    """
    from alembic import command

    from incident.adapters.db import make_engine, upgrade_to_head
    from incident.adapters.migrations import MIGRATIONS_DIR, alembic_config

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        try:
            upgrade_to_head(engine)
            with engine.begin() as connection:
                command.revision(
                    alembic_config(connection), message=message, rev_id=rev_id, autogenerate=True
                )
        finally:
            engine.dispose()
    typer.echo(str(MIGRATIONS_DIR / "versions" / f"{rev_id}.py"))


@contextmanager
def _engine() -> Iterator[Engine]:
    from incident.adapters.db import make_engine
    from incident.settings import Settings

    err = Console(stderr=True, highlight=False)
    try:
        settings = Settings()
        engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    try:
        yield engine
    except BreachNoticeError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
