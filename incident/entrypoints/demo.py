"""`breachnotice demo`: the whole service on embedded defaults, start to finish, with progress.

It seeds a sample directory (and a few people nobody can reach), raises the sample incident,
tells every person on the channels of the fallback chain (local stand-ins under ./out/<channel>),
waits for the public notice and the regulator reports the obligations call for, exports the
evidence pack, and prints where each artefact is."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from channels import REGISTRY
from incident.bootstrap import Runtime, start_runtime
from incident.entrypoints.workers import run_all
from incident.rendering import Renderer
from incident.service.directory import save_people
from incident.service.evidence import EvidencePack, export_evidence
from incident.service.intake import load_incident_file, raise_incident, waiver
from incident.service.obligations import open_obligations
from incident.service.progress import (
    AddresseeNotice,
    NoticeCounts,
    addressee_notices,
    channel_outcomes,
    notice_counts,
    unreachable_reasons,
)
from incident.service.sample import sample_people, seed_directory
from incident.service.sample_incident import shift_sample
from incident.settings import ApprovalSettings, Settings, config_dir, templates_dir

console = Console(stderr=True)
# The demo shows every channel the policy promises, each writing under ./out/<channel>.
DEMO_CHAIN = tuple(name for name in ("email", "push", "sms", "voice", "letter") if name in REGISTRY)
# What the demo writes besides the channels' folders, and starts afresh on every run.
ARTEFACTS = ("mail", "bounces", "public", "reports", "evidence")
# The periodic sweep queues the public and authority notices; the demo cannot wait 2 minutes.
DEMO_SWEEP_SECONDS = 2.0
ADDRESSEE_WAIT_SECONDS = 30.0


def _fresh_demo_settings(settings: Settings) -> Settings:
    """The demo owns ./out/demo.db and ./out/<channel> and starts them afresh on every run."""
    out = settings.out_dir
    db = out / "demo.db"
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    for captured in (*ARTEFACTS, *DEMO_CHAIN):
        shutil.rmtree(out / captured, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    dispatch = settings.dispatch.model_copy(
        update={"fallback_chain": list(DEMO_CHAIN), "sweep_after_seconds": DEMO_SWEEP_SECONDS}
    )
    return settings.model_copy(update={"database_url": f"sqlite:///{db}", "dispatch": dispatch})


def hard_to_reach(first: int, count: int) -> list[dict[str, Any]]:
    """People no channel can reach: nothing on file, or only an address no post can deliver.
    They end `unreachable` with their reasons, and call for the public (substitute) notice."""
    rows = []
    for i in range(first, first + count):
        row = next(sample_people(1, seed=i))
        incomplete = {"street": "Damrak", "city": "Amsterdam", "postal_code": "", "country": "NL"}
        address = incomplete if i % 2 else {}
        rows.append({**row, "id": f"p-{i:07d}", "email": None, "phone": None})
        rows[-1].update(country="NL", region=None, locale="nl", postal_address=address)
        rows[-1].update(is_minor=False, guardian_id=None, push_subscriptions=[])
    return rows


def run_demo(settings: Settings, *, people: int, timeout: float) -> int:
    settings = _fresh_demo_settings(settings)
    started = time.monotonic()
    with console.status("starting the local broker and SMTP server…"):
        runtime = start_runtime(settings)
    try:
        return _run(runtime, people=people, timeout=timeout, started=started)
    finally:
        runtime.close()


def _seed(runtime: Runtime, people: int) -> None:
    unreachable = min(people - 1, max(2, people // 250))
    with console.status(f"seeding a sample directory of {people:,} people…"):
        seed_directory(runtime.engine, people - unreachable)
        with Session(runtime.engine) as session:
            save_people(session, hard_to_reach(people - unreachable + 1, unreachable))
            session.commit()


def _raise(runtime: Runtime) -> str:
    spec = load_incident_file(config_dir() / "examples" / "incident.yaml")
    # The sample incident was found hours ago, so its deadline clocks read like a real one's:
    # all its dates move together, those in its texts too.
    wording = Renderer(templates_dir()).wording
    spec = shift_sample(spec, aware_by=datetime.now(UTC) - timedelta(hours=2), wording=wording)
    # The demo has nobody to approve it: it waives the second person's approval by setting.
    approval = ApprovalSettings(waive=["low", "medium", "high", "critical"])
    incident_id = raise_incident(
        runtime.engine,
        spec,
        topic=runtime.settings.kafka.incidents_topic,
        now=datetime.now(UTC),
        reporter="demo",
        approval=approval,
    )
    console.print(f"raised incident [bold]{incident_id}[/bold]: {spec.title}")
    console.print(
        f"[yellow]approval waived for the demo[/yellow] ({waiver(approval, spec.severity.value)}):"
        " a deployment sends nothing until a second person runs"
        f" `breachnotice incident approve {incident_id} --by NAME`"
    )
    return incident_id


def _run(runtime: Runtime, *, people: int, timeout: float, started: float) -> int:
    _seed(runtime, people)
    incident_id = _raise(runtime)
    stop = threading.Event()
    threads = run_all(runtime, stop)
    deadline = time.monotonic() + timeout
    try:
        counts = _follow(runtime, incident_id, people, stop, deadline=deadline)
        others = _follow_addressees(runtime, incident_id, deadline=deadline) if counts.done else []
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    pack = _evidence(runtime, incident_id)
    _summary(runtime, incident_id, counts, time.monotonic() - started)
    _addressees(others)
    _artefacts(runtime, incident_id, others, pack)
    finished = counts.done and bool(others) and all(n.settled for n in others)
    if not finished:
        console.print("[red]the demo did not finish: see the log above[/red]")
    return 0 if finished else 1


def _follow(
    runtime: Runtime, incident_id: str, people: int, stop: threading.Event, *, deadline: float
) -> NoticeCounts:
    with _progress() as progress:
        enriched = progress.add_task("people enriched", total=people)
        notified = progress.add_task("notices settled", total=people)
        counts = notice_counts(runtime.engine, incident_id)
        while not counts.done and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.25)
            counts = notice_counts(runtime.engine, incident_id)
            progress.update(enriched, completed=counts.affected)
            progress.update(notified, completed=counts.settled)
    return counts


def _follow_addressees(
    runtime: Runtime, incident_id: str, *, deadline: float
) -> list[AddresseeNotice]:
    """Wait (bounded) until the public and authority notices are settled or blocked."""
    deadline = min(deadline, time.monotonic() + ADDRESSEE_WAIT_SECONDS)
    with _progress() as progress:
        task = progress.add_task("public notice and regulator reports settled or blocked")
        notices = addressee_notices(runtime.engine, incident_id)
        while time.monotonic() < deadline and not (notices and all(n.settled for n in notices)):
            progress.update(
                task, total=len(notices) or None, completed=sum(n.settled for n in notices)
            )
            time.sleep(0.25)
            notices = addressee_notices(runtime.engine, incident_id)
        progress.update(task, total=len(notices), completed=sum(n.settled for n in notices))
    return notices


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), console=console)


def _evidence(runtime: Runtime, incident_id: str) -> EvidencePack | None:
    out = runtime.settings.out_dir
    with console.status("exporting the evidence pack…"):
        try:
            return export_evidence(
                runtime.engine,
                incident_id,
                out / "evidence" / incident_id,
                public_root=_channel_root(runtime, "announcement", "web_root", out / "public"),
                reports_root=_channel_root(runtime, "regulator", "export_dir", out / "reports"),
            )
        except Exception as exc:  # the demo reports it; the notices are already recorded
            console.print(f"[red]evidence pack not written:[/red] {escape(str(exc))}")
            return None


def _channel_root(runtime: Runtime, channel: str, setting: str, default: Path) -> Path:
    configured = str(getattr(runtime.channel_settings.get(channel), setting, "") or "")
    return Path(configured) if configured else default


def _summary(runtime: Runtime, incident_id: str, c: NoticeCounts, elapsed: float) -> None:
    table = Table(title=f"incident {incident_id}", show_header=False)
    table.add_row("affected people", f"{c.affected:,}")
    table.add_row("told (sent, delivered or confirmed)", f"[green]{c.sent:,}[/green]")
    table.add_row("not reachable (recorded, with reason)", f"[yellow]{c.unreachable:,}[/yellow]")
    table.add_row("still pending", f"[red]{c.pending:,}[/red]" if c.pending else "0")
    table.add_row("elapsed", f"{elapsed:.1f} s")
    console.print(table)
    _channels(runtime, incident_id)
    _unreachable(runtime, incident_id)
    _obligations(runtime, incident_id)


def _channels(runtime: Runtime, incident_id: str) -> None:
    table = Table(title="people's notices by channel (fallback chain: " + ", ".join(DEMO_CHAIN))
    table.title = f"{table.title})"
    columns = ("channel", "sent", "delivered", "failed", "fallbacks taken", "confirmed")
    for column in columns:
        table.add_column(column, justify="left" if column == "channel" else "right")
    outcomes = channel_outcomes(runtime.engine, incident_id)
    for channel in [*[ch for ch in DEMO_CHAIN if ch in outcomes], *outcomes]:
        o = outcomes.pop(channel, None)
        if o is not None:
            table.add_row(channel, *(f"{n:,}" for n in _cells(o)))
    console.print(table)
    console.print(
        "  failed = the recipient's verdict (refused, bounced, undelivered); fallbacks taken = "
        "people told on this channel after an earlier one failed them"
    )


def _cells(o: Any) -> tuple[int, ...]:
    return (o.sent, o.delivered, o.failed, o.fallbacks, o.confirmed)


def _unreachable(runtime: Runtime, incident_id: str) -> None:
    groups = unreachable_reasons(runtime.engine, incident_id)
    if not groups:
        console.print("nobody was left unreachable")
        return
    table = Table(title=f"{sum(g.count for g in groups):,} people left unreachable, by reason")
    for column in ("reason", "people", "first ids"):
        table.add_column(column)
    for g in groups:
        table.add_row(escape(g.reason), f"{g.count:,}", ", ".join(g.examples))
    console.print(table)


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


def _addressees(notices: list[AddresseeNotice]) -> None:
    """The public notice and the regulator reports: filed, or blocked with the items named."""
    public = [n for n in notices if n.kind == "public"]
    filed = [n.addressee_id for n in notices if n.kind == "authority" and n.status != "pending"]
    blocked = [n for n in notices if n.blocked]
    waiting = [n.addressee_id for n in notices if not n.settled]
    console.print(f"public notice: {public[0].status if public else '[red]none[/red]'}")
    console.print(f"regulator reports filed ({len(filed)}): {escape(', '.join(filed))}")
    if blocked:
        console.print(
            f"regulator reports blocked ({len(blocked)}), the items an operator must give "
            "(breachnotice reports set):"
        )
    for n in blocked:
        missing = (n.reason or "").rpartition("missing: ")[2] or n.reason or ""
        console.print(f"  blocked report {escape(n.addressee_id)}: missing {escape(missing)}")
    if waiting:
        console.print(
            f"[red]still on their way ({len(waiting)}):[/red] {escape(', '.join(waiting))}"
        )


def _artefacts(
    runtime: Runtime,
    incident_id: str,
    others: list[AddresseeNotice],
    pack: EvidencePack | None,
) -> None:
    out = runtime.settings.out_dir
    filed = sum(n.kind == "authority" and n.status != "pending" for n in others)
    blocked = sum(n.blocked for n in others)
    table = Table(title="where everything is", show_header=False)
    for channel in DEMO_CHAIN:
        folder = out / ("mail" if channel == "email" else _folder(channel))
        table.add_row(
            f"{channel} notices", _where(folder, "(a Maildir)" if channel == "email" else "")
        )
    site = out / "public" / "notices" / incident_id
    table.add_row("public notice site", _where(site, "(HTML + Atom per locale, manifest.json)"))
    reports = out / "reports" / incident_id
    table.add_row("regulator reports", _where(reports, f"({filed} filed, {blocked} blocked)"))
    evidence = pack.folder if pack is not None else out / "evidence" / incident_id
    files = f"({len(pack.files)} files, manifest.json)" if pack is not None else ""
    table.add_row("evidence pack", _where(evidence, files))
    table.add_row("database", runtime.settings.database_url)
    console.print(table)


def _folder(channel: str) -> str:
    return {"letter": "letters"}.get(channel, channel)


def _where(folder: Path, note: str) -> str:
    return (
        f"{folder} {note}".strip() if folder.exists() else f"[dim]{folder} (nothing written)[/dim]"
    )
