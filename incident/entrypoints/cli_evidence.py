"""`breachnotice evidence INCIDENT [--out DIR]`: the evidence pack a regulator asks for.

Writes notices.csv, events.csv, obligations.csv, copies of the published announcement and
report files, summary.pdf and manifest.json (sha256 of every file) under
`<out_dir>/evidence/<incident>/`. Ids only: the pack never holds contact details.
An unknown incident exits with code 2 and the reason on standard error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from incident.errors import NotFound


def evidence_command(
    incident_id: Annotated[str, typer.Argument(help="The incident whose evidence to export.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder (default: <out_dir>/evidence/<id>).")
    ] = None,
) -> None:
    """Export who was told what, when and through which channel, with delivery states."""
    from channels.safe_files import id_problem
    from incident.errors import InvalidInput

    if rule := id_problem(incident_id):
        shown = escape(f"incident: {incident_id!r}: {rule}")
        Console(stderr=True).print(f"[red]invalid:[/red] {shown}", soft_wrap=True)
        raise typer.Exit(2)
    from incident.adapters.db import check_schema, make_engine
    from incident.service.evidence import export_evidence
    from incident.settings import Settings

    settings = Settings()
    channels = settings.channels
    web_root = channels.get("announcement", {}).get("web_root") or ""
    export_dir = channels.get("regulator", {}).get("export_dir") or ""
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine, auto_upgrade=settings.database_auto_upgrade)
        pack = export_evidence(
            engine,
            incident_id,
            out or settings.out_dir / "evidence" / incident_id,
            public_root=Path(web_root) if web_root else settings.out_dir / "public",
            reports_root=Path(export_dir) if export_dir else settings.out_dir / "reports",
        )
    except (NotFound, InvalidInput) as exc:
        Console(stderr=True).print(f"[red]invalid:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    notices = sum(pack.counts.values())
    typer.echo(f"evidence pack: {pack.folder} ({len(pack.files)} files, {notices} notices)")


def register(app: typer.Typer) -> None:
    """Add `evidence` to the `breachnotice` CLI."""
    app.command("evidence")(evidence_command)
