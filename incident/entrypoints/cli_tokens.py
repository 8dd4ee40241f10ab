"""`breachnotice tokens`: bearer tokens of the HTTP API (/api/v1).

    breachnotice tokens create --name alice --role approver [--expires 90]   prints it ONCE
    breachnotice tokens list                                                 never the secrets
    breachnotice tokens revoke ID|NAME

Bad input (an unknown role, an empty name, an unknown token) exits 2 naming field and rule.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from incident.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")


def _engine() -> Engine:
    from incident.adapters.db import open_database
    from incident.settings import Settings

    settings = Settings()
    return open_database(settings.database_url, auto_upgrade=settings.database_auto_upgrade)


@tokens_app.command("create")
def create_command(
    name: Annotated[str, typer.Option(help="Who uses it (recorded as who acted).")],
    role: Annotated[str, typer.Option(help="reporter | approver | viewer | admin")],
    expires: Annotated[
        float | None, typer.Option(help="Days until it expires (default: never).")
    ] = None,
) -> None:
    """Make a token and print it once: only its SHA-256 is stored."""
    from incident.service.audit import seal_pending
    from incident.service.tokens import create_token, parse_role

    engine = _engine()
    try:
        made = create_token(
            engine, name=name, role=parse_role(role), now=datetime.now(UTC), expires_days=expires
        )
        seal_pending(engine)
    except InvalidInput as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    until = made.expires_at.isoformat() if made.expires_at else "never"
    typer.echo(made.secret)
    typer.echo(f"{made.token_id} ({role}, expires {until}): shown once, keep it safe", err=True)


@tokens_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Every token: id, name, role, created, expires, revoked, last used (no secrets)."""
    from incident.service.tokens import list_tokens

    engine = _engine()
    try:
        rows = list_tokens(engine)
    finally:
        engine.dispose()
    for row in rows:
        fields = {
            "id": row.id,
            "name": row.name,
            "role": row.role,
            "created_at": row.created_at.isoformat(),
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        }
        if as_json:
            typer.echo(json.dumps(fields))
        else:
            typer.echo("  ".join(f"{k}={v}" for k, v in fields.items() if v is not None))


@tokens_app.command("revoke")
def revoke_command(ref: Annotated[str, typer.Argument(help="A token id, or a name.")]) -> None:
    """Revoke a token (by id), or every live token of a name."""
    from incident.service.audit import seal_pending
    from incident.service.tokens import revoke_token

    engine = _engine()
    try:
        revoked = revoke_token(engine, ref, now=datetime.now(UTC))
        seal_pending(engine)
    except NotFound as exc:
        typer.echo(f"token: {ref!r} is invalid: no live token with this id or name", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    typer.echo(f"revoked {', '.join(revoked)}")
