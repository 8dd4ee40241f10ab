"""The `breachnotice` command line."""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from incident.entrypoints import (
    cli_approval,
    cli_audit,
    cli_db,
    cli_email,
    cli_evidence,
    cli_letters,
    cli_notices,
    cli_obligations,
    cli_people,
    cli_preview,
    cli_public,
    cli_tokens,
)
from incident.errors import BreachNoticeError, ConfigError, DocumentError, InvalidInputs

if TYPE_CHECKING:
    from incident.bootstrap import Runtime
    from incident.domain.incident_spec import IncidentSpec
    from incident.settings import Settings

app = typer.Typer(
    help="Tell people and regulators about a personal-data breach, on time.",
    no_args_is_help=True,
    add_completion=False,
)
incident_app = typer.Typer(help="Raise and inspect incidents.", no_args_is_help=True)
app.add_typer(incident_app, name="incident")
err = Console(stderr=True)


def _settings(*, quiet: bool = False) -> Settings:
    """Settings and logging; `quiet` keeps per-notice lines out of an interactive run's way
    unless BREACHNOTICE_LOG_LEVEL asks for them."""
    from incident.log import configure_logging
    from incident.settings import Settings

    try:
        settings = Settings()
    except BreachNoticeError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    level = (
        "warning" if quiet and "BREACHNOTICE_LOG_LEVEL" not in os.environ else settings.log_level
    )
    configure_logging(fmt=settings.log_format, level=level, libraries=settings.log_library_level)
    return settings


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def read_incident_file(file: Path) -> IncidentSpec:
    """The incident in a YAML/JSON file: DocumentError or InvalidInputs, nothing else."""
    from incident.adapters.documents import load_document
    from incident.domain.incident_spec import parse_incident_spec

    return parse_incident_spec(load_document(file))


@incident_app.command("raise")
def raise_cmd(
    file: Annotated[Path, typer.Argument(help="Incident description, YAML or JSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {'incident_id': ...}.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who reports it (default: the login name).")
    ] = None,
) -> None:
    """Validate and store an incident as a draft: `incident approve ID --by OTHER` sends it."""
    from incident.adapters.db import open_database
    from incident.service.audit import seal_pending
    from incident.service.intake import raise_incident, waiver

    settings = _settings()
    try:
        spec = read_incident_file(file)
    except (DocumentError, InvalidInputs) as exc:
        typer.echo(f"{file}: invalid incident", err=True)
        for problem in exc.errors if isinstance(exc, InvalidInputs) else [exc]:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from exc
    for warning in cli_preview.content_warnings(spec):  # what a regime asks and the file lacks
        typer.echo(f"warning: {warning}", err=True)
    engine = open_database(settings.database_url, auto_upgrade=settings.database_auto_upgrade)
    reporter = by or _login_name()
    incident_id = raise_incident(
        engine,
        spec,
        topic=settings.kafka.incidents_topic,
        now=datetime.now(UTC),
        reporter=reporter,
        approval=settings.approval,
    )
    seal_pending(engine)
    waived = waiver(settings.approval, spec.severity.value)
    if waived:
        typer.echo(f"approval waived: {waived}; notices go out without a second person", err=True)
    else:
        typer.echo(
            f"draft reported by {reporter}: nothing is sent until another person runs "
            f"`breachnotice incident approve {incident_id} --by NAME`",
            err=True,
        )
    typer.echo(json.dumps({"incident_id": incident_id}) if as_json else incident_id)


@incident_app.command("status")
def status_cmd(incident_id: str) -> None:
    """Counts of affected people and notices by status."""
    from sqlmodel import Session

    from incident.adapters.db import open_database
    from incident.adapters.tables import Incident
    from incident.service.approval import approvals
    from incident.service.progress import enrichment_report, notice_counts

    settings = _settings()

    engine = open_database(settings.database_url, auto_upgrade=settings.database_auto_upgrade)
    try:
        with Session(engine) as session:
            row = session.get(Incident, incident_id)
            state = (row.status, row.reported_by) if row is not None else None
        if state is None:
            typer.echo(f"incident_id: {incident_id!r} is invalid: no such incident", err=True)
            raise typer.Exit(2)
        counts = notice_counts(engine, incident_id)
        report = enrichment_report(engine, incident_id)
        approved = approvals(engine, incident_id)
    finally:
        engine.dispose()  # every connection is back in the pool by now: none is left open
    typer.echo(
        json.dumps(
            {
                "incident_id": incident_id,
                "status": state[0],
                "reported_by": state[1],
                "approvals": [
                    {"by": a.by, "at": a.at.isoformat(), "version": a.version, "waived": a.waived}
                    for a in approved
                ],
                "affected": counts.affected,
                "pending": counts.pending,
                "sent": counts.sent,
                "unreachable": counts.unreachable,
                "enrichment": report,
            }
        )
    )


CLOCKS = (
    "determined_at",
    "material_at",
    "assessed_at",
    "handled_at",
    "extortion_paid_at",
    "law_enforcement_delay_start",
    "law_enforcement_delay_end",
)


@incident_app.command("clock")
def clock_cmd(
    incident_id: str,
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(CLOCKS)}.")],
    at: Annotated[str | None, typer.Option(help="ISO 8601 time with offset; default now.")] = None,
    national_security: Annotated[
        bool,
        typer.Option(
            help="A law-enforcement delay on a national-security or public-safety finding."
        ),
    ] = False,
) -> None:
    """Record an instant that starts or pauses a deadline clock, then recompute obligations."""
    from sqlmodel import Session

    from incident.adapters.db import open_database
    from incident.adapters.tables import Incident
    from incident.domain.events import ClockRecorded
    from incident.domain.timezones import parse_instant
    from incident.service import bus
    from incident.service.obligations import open_obligations, record_clock

    settings = _settings()
    try:
        when = parse_instant(at) if at else datetime.now(UTC)  # bounded: no overflow later
        if name not in CLOCKS:
            raise ValueError(f"unknown clock; use one of {', '.join(CLOCKS)}")
    except ValueError as exc:
        typer.echo(f"{name if at is None else 'at'}: {at or name!r} is invalid: {exc}", err=True)
        raise typer.Exit(2) from exc
    engine = open_database(settings.database_url, auto_upgrade=settings.database_auto_upgrade)
    with Session(engine) as session:
        if session.get(Incident, incident_id) is None:
            typer.echo(f"incident_id: {incident_id!r} is invalid: no such incident", err=True)
            raise typer.Exit(2)
        record_clock(session, incident_id, name, when, national_security=national_security)
        session.flush()
        bus.handle(session, [ClockRecorded(incident_id, name)], now=datetime.now(UTC))
        rows = open_obligations(session, incident_id=incident_id)
        session.commit()
    typer.echo(f"{incident_id}: {name} = {when.isoformat()}; {len(rows)} open obligations")


@app.command()
def demo(
    people: Annotated[int, typer.Option(min=1, help="Size of the sample directory.")] = 1000,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 600.0,
) -> None:
    """Run the whole service on embedded defaults: sample directory, incident, notices."""
    from incident.entrypoints.demo import run_demo

    settings = _settings(quiet=True)
    raise typer.Exit(run_demo(settings, people=people, timeout=timeout))


@app.command()
def serve(
    embedded: Annotated[
        bool, typer.Option(help="Start the local broker/SMTP server where none is configured.")
    ] = False,
    dispatchers: Annotated[
        int, typer.Option(min=1, help="Dispatchers; more than one run as processes, one per core.")
    ] = 1,
) -> None:
    """Run relay, enricher and dispatcher until SIGTERM/SIGINT, then finish in-flight work."""
    from incident.entrypoints.workers import run_all

    _serve(
        embedded,
        lambda rt, stop: run_all(rt, stop, dispatchers=1 if dispatchers == 1 else 0),
        dispatcher_processes=0 if dispatchers == 1 else dispatchers,
    )


class WorkerKind(StrEnum):
    relay = "relay"
    enricher = "enricher"
    dispatcher = "dispatcher"


@app.command()
def worker(
    kind: Annotated[WorkerKind, typer.Argument(help="Which worker to run.")],
    index: Annotated[
        int,
        typer.Option(
            min=0,
            help="Dispatchers of one instance need distinct indexes when "
            "kafka.instance_id is set (static group membership).",
        ),
    ] = 0,
    embedded: Annotated[
        bool, typer.Option(help="Start the local broker/SMTP server where none is configured.")
    ] = False,
) -> None:
    """Run a single worker until SIGTERM: scale dispatchers out by starting more processes."""
    from incident.entrypoints import workers

    def dispatcher(rt: Runtime, stop: threading.Event) -> None:
        workers.run_dispatcher(rt, stop, index=index)

    target = {
        "relay": workers.run_relay,
        "enricher": workers.run_enricher,
        "dispatcher": dispatcher,
    }[kind.value]
    _serve(embedded, lambda rt, stop: workers.start_threads(rt, stop, [(kind.value, target)]))


def _serve(
    embedded: bool,
    start: Callable[[Runtime, threading.Event], list[threading.Thread]],
    *,
    dispatcher_processes: int = 0,
) -> None:
    from incident.bootstrap import start_runtime
    from incident.entrypoints.processes import DispatcherProcesses

    settings = _settings()
    try:
        runtime = start_runtime(settings, embedded_ok=embedded)
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from incident.entrypoints.callback_server import start_callback_server

    threads = start(runtime, stop)
    procs = DispatcherProcesses(runtime, dispatcher_processes).start()
    stop_callbacks = start_callback_server(runtime)
    err.print(f"breachnotice running (kafka {runtime.bootstrap_servers}); SIGTERM/Ctrl-C stops")
    while not stop.wait(0.5):
        if not procs.supervise():
            stop.set()
    procs.stop()
    if stop_callbacks is not None:
        stop_callbacks()
    for thread in threads:
        thread.join(timeout=60)
    runtime.close()
    crashed = [t.name for t in threads if getattr(t, "crashed", False)] + procs.crashed
    if crashed:
        err.print(f"[red]stopped because worker(s) crashed: {crashed}[/red]")
        raise typer.Exit(1)
    err.print("stopped: in-flight work finished, offsets committed")


cli_approval.register(incident_app)
cli_obligations.register(app)
cli_db.register(app)
cli_notices.register(app)
cli_letters.register(app)
cli_public.register(app)
cli_evidence.register(app)
cli_email.register(app)
cli_people.register(app)
cli_audit.register(app)
cli_tokens.register(app)


def main() -> None:
    """Exit codes: 0 done, 2 bad input, not found, bad configuration or an unreachable peer
    (every BreachNoticeError: one line on standard error), 1 a failure while working."""
    try:
        app()
    except BreachNoticeError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
