"""`breachnotice demo`: the whole service on embedded defaults, start to finish, with progress."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from channels import REGISTRY
from incident.bootstrap import Runtime, start_runtime
from incident.entrypoints.workers import run_all
from incident.service.intake import load_incident_file, raise_incident
from incident.service.obligations import open_obligations
from incident.service.progress import NoticeCounts, notice_counts, sent_by_channel
from incident.service.sample import seed_directory
from incident.settings import Settings, config_dir

console = Console(stderr=True)
# The demo shows every channel the policy promises, each writing under ./out/<channel>.
DEMO_CHAIN = tuple(name for name in ("email", "push", "sms", "voice", "letter") if name in REGISTRY)


def _fresh_demo_settings(settings: Settings) -> Settings:
    """The demo owns ./out/demo.db and ./out/mail and starts them afresh on every run."""
    out = settings.out_dir
    db = out / "demo.db"
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    for captured in ("mail", *DEMO_CHAIN):
        shutil.rmtree(out / captured, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    dispatch = settings.dispatch.model_copy(update={"fallback_chain": list(DEMO_CHAIN)})
    return settings.model_copy(update={"database_url": f"sqlite:///{db}", "dispatch": dispatch})


def run_demo(settings: Settings, *, people: int, timeout: float) -> int:
    settings = _fresh_demo_settings(settings)
    started = time.monotonic()
    with console.status("starting the local broker and SMTP server…"):
        runtime = start_runtime(settings)
    try:
        return _run(runtime, people=people, timeout=timeout, started=started)
    finally:
        runtime.close()


def _run(runtime: Runtime, *, people: int, timeout: float, started: float) -> int:
    with console.status(f"seeding a sample directory of {people:,} people…"):
        seed_directory(runtime.engine, people)
    spec = load_incident_file(config_dir() / "examples" / "incident.yaml")
    # The sample incident was found two hours ago, so its deadline clocks read like a real one's.
    spec = spec.model_copy(
        update={
            "aware_at": datetime.now(UTC) - timedelta(hours=2),
            "occurred_at": datetime.now(UTC) - timedelta(days=1),
        }
    )
    incident_id = raise_incident(
        runtime.engine, spec, topic=runtime.settings.kafka.incidents_topic, now=datetime.now(UTC)
    )
    console.print(f"raised incident [bold]{incident_id}[/bold]: {spec.title}")
    stop = threading.Event()
    threads = run_all(runtime, stop)
    counts = _follow(runtime, incident_id, people, stop, deadline=time.monotonic() + timeout)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    _summary(runtime, incident_id, counts, time.monotonic() - started)
    return 0 if counts.done else 1


def _follow(
    runtime: Runtime, incident_id: str, people: int, stop: threading.Event, *, deadline: float
) -> NoticeCounts:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        enriched = progress.add_task("people enriched", total=people)
        notified = progress.add_task("notices settled", total=people)
        counts = notice_counts(runtime.engine, incident_id)
        while not counts.done and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.25)
            counts = notice_counts(runtime.engine, incident_id)
            progress.update(enriched, completed=counts.affected)
            progress.update(notified, completed=counts.settled)
    return counts


def _obligations(runtime: Runtime, incident_id: str, *, shown: int = 8) -> None:
    with Session(runtime.engine) as session:
        rows = open_obligations(session, incident_id=incident_id)
    table = Table(
        title=f"{len(rows)} obligations, soonest first (breachnotice obligations {incident_id})"
    )
    for column in ("regime", "recipient", "stage", "due (UTC)", "jurisdiction"):
        table.add_column(column)
    far = datetime.max.replace(tzinfo=UTC)
    for row in sorted(rows, key=lambda r: r.due or r.target or far)[:shown]:
        when = row.due or row.target
        table.add_row(
            row.regime,
            row.recipient,
            row.stage,
            f"{when:%Y-%m-%d %H:%M}" if when else "-",
            row.jurisdiction,
        )
    console.print(table)


def _summary(runtime: Runtime, incident_id: str, c: NoticeCounts, elapsed: float) -> None:
    table = Table(title=f"incident {incident_id}", show_header=False)
    table.add_row("affected people", f"{c.affected:,}")
    for channel, sent in sent_by_channel(runtime.engine, incident_id).items():
        table.add_row(f"notices sent by {channel}", f"[green]{sent:,}[/green]")
    table.add_row("delivery attempts refused", f"{c.failed_attempts:,}")
    table.add_row("not reachable (recorded, with reason)", f"[yellow]{c.unreachable:,}[/yellow]")
    table.add_row("still pending", f"[red]{c.pending:,}[/red]" if c.pending else "0")
    table.add_row("elapsed", f"{elapsed:.1f} s")
    table.add_row("what was sent", f"{runtime.settings.out_dir}/<channel> (mail: a Maildir)")
    table.add_row("database", runtime.settings.database_url)
    console.print(table)
    _obligations(runtime, incident_id)
    if not c.done:
        console.print("[red]the demo did not finish: see the log above[/red]")
