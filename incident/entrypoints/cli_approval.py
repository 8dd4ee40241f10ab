"""`breachnotice incident approve ID --by NAME`: the second person's approval of a draft.

Refuses the incident's reporter, an incident that is not a draft and an unknown id (exit 2,
naming field, value and rule). Approving records who, when and which content version, and
queues the fan-out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from incident.errors import InvalidInput, NotFound


def register(incident_app: typer.Typer) -> None:
    incident_app.command("approve")(approve_command)


def approve_command(
    incident_id: Annotated[str, typer.Argument(help="The draft incident to approve.")],
    by: Annotated[str, typer.Option("--by", help="Who approves (not the reporter).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the approval as JSON.")] = False,
) -> None:
    """Approve a draft incident's content: its notices go out to people."""
    from incident.adapters.db import open_database
    from incident.service.approval import approve_incident
    from incident.service.audit import seal_pending
    from incident.settings import Settings

    settings = Settings()
    engine = open_database(settings.database_url, auto_upgrade=settings.database_auto_upgrade)
    try:
        approval = approve_incident(
            engine,
            incident_id,
            by=by,
            topic=settings.kafka.incidents_topic,
            now=datetime.now(UTC),
        )
        seal_pending(engine)
    except NotFound as exc:
        typer.echo(f"incident_id: {incident_id!r} is invalid: no such incident", err=True)
        raise typer.Exit(2) from exc
    except InvalidInput as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if as_json:
        fields = {
            "incident_id": approval.incident_id,
            "approved_by": approval.by,
            "approved_at": approval.at.isoformat(),
            "version": approval.version,
            "content_sha256": approval.content_sha256,
        }
        typer.echo(json.dumps(fields))
    else:
        typer.echo(
            f"{incident_id}: version {approval.version} approved by {approval.by} "
            f"(content sha256 {approval.content_sha256[:16]}…): notices are queued"
        )
