"""`breachnotice audit verify [--head HASH] [--json]`: check the hash-chained audit trail.

Seals the rows committed since the last seal (unless --no-seal), then walks the chain: exit 0
with the row count and head when it holds, exit 2 naming the first altered, inserted or deleted
row when it does not. `--head` is the head an evidence pack recorded (manifest.json,
`audit_chain.head`): a chain that no longer contains it lost rows after it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify_command(
    head: Annotated[
        str | None, typer.Option(help="A head recorded earlier (an evidence pack's).")
    ] = None,
    seal: Annotated[bool, typer.Option(help="Seal rows committed since the last seal.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Report the first altered, inserted or deleted audit row (exit 2), or the chain's head."""
    from incident.adapters.db import open_database
    from incident.service.audit import chain_head, seal_pending, verify_chain
    from incident.settings import Settings

    settings = Settings()
    engine = open_database(settings.database_url, auto_upgrade=settings.database_auto_upgrade)
    try:
        if seal:
            seal_pending(engine)
        verdict = verify_chain(engine, expect_head=head)
        unsealed = chain_head(engine).unsealed
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({**asdict(verdict), "unsealed": unsealed}))
    elif verdict.ok:
        typer.echo(f"audit chain intact: {verdict.message}; {unsealed} rows not sealed yet")
    else:
        typer.echo(f"audit chain broken ({verdict.problem}): {verdict.message}", err=True)
    if not verdict.ok:
        raise typer.Exit(2)
