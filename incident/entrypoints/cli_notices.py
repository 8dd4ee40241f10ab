"""`breachnotice notices requeue`: the operator's repair after a misclassified outage or a
corrected contact point."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from incident.domain.model import REQUEUABLE
from incident.errors import BreachNoticeError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from incident.adapters.tables import Incident
    from incident.settings import Settings

notices_app = typer.Typer(
    help="Notices: preview them as people receive them, repair them after an outage.",
    no_args_is_help=True,
)
err = Console(stderr=True)


@notices_app.command("requeue")
def requeue_cmd(
    incident_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")],
    status: Annotated[
        str, typer.Option(help=f"Which to move back: {' or '.join(REQUEUABLE)}.")
    ] = "unreachable",
    channel: Annotated[str | None, typer.Option(help="Only attempts on this channel.")] = None,
) -> None:
    """Move unreachable notices (or failed attempts) of INCIDENT back to pending."""
    from sqlmodel import Session

    from incident.adapters.db import ensure_schema_current, make_engine
    from incident.adapters.tables import Incident
    from incident.service.requeue import requeue
    from incident.settings import Settings

    settings = Settings()
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    ensure_schema_current(engine, auto_upgrade=engine.dialect.name == "sqlite")
    try:
        with Session(engine) as session:
            result = requeue(
                session,
                incident_id,
                status=status,
                channel=channel,
                reason=reason,
                now=datetime.now(UTC),
            )
            session.commit()
            incident = session.get(Incident, incident_id)
    except BreachNoticeError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    queued = _publish(settings, engine, incident) if incident is not None else 0
    typer.echo(
        f"{incident_id}: {result.notices} notices back to pending, {result.attempts} attempts "
        f"to retry, {result.contact_points} contact points cleared; "
        + (f"{queued} jobs queued" if queued else "the service's sweep will queue them")
    )


def _publish(settings: Settings, engine: Engine, incident: Incident) -> int:
    from incident.service.enrich import queue_pending

    if not settings.kafka.bootstrap_servers:
        return 0
    from incident.adapters.kafka_bus import MessageProducer

    producer = MessageProducer(settings.kafka, settings.kafka.bootstrap_servers)
    try:
        return queue_pending(engine, incident, producer, settings.kafka.notices_topic)
    finally:
        producer.close()


def register(app: typer.Typer) -> None:
    from incident.entrypoints import cli_preview

    notices_app.command("preview")(cli_preview.preview_command)
    app.add_typer(notices_app, name="notices")
