"""`breachnotice public` and `breachnotice reports`: what the public and the authorities get.

    breachnotice public show INCIDENT [--json]          the public notice, its grounds, versions
    breachnotice reports list INCIDENT [--json]         every report version and where it stands
    breachnotice reports set INCIDENT ITEM TEXT         give a report item the record lacks

An unknown incident exits with code 2 and the reason on standard error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from incident.entrypoints.cli_output import table_console
from incident.errors import NotFound

if TYPE_CHECKING:
    from sqlmodel import Session

    from incident.adapters.tables import DeliveryAttempt, Notice
    from incident.settings import Settings

public_app = typer.Typer(help="The public notice of an incident.", no_args_is_help=True)
reports_app = typer.Typer(help="Reports to regulators.", no_args_is_help=True)
out, err = Console(), Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    """Add `public` and `reports` to the `breachnotice` CLI."""
    app.add_typer(public_app, name="public")
    app.add_typer(reports_app, name="reports")


@contextmanager
def _session(incident_id: str) -> Iterator[tuple[Session, Settings]]:
    from sqlmodel import Session

    from incident.adapters.db import check_schema, make_engine
    from incident.adapters.tables import Incident
    from incident.settings import Settings

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine, auto_upgrade=settings.database_auto_upgrade)
        with Session(engine, expire_on_commit=False) as session:
            if session.get(Incident, incident_id) is None:
                err.print(f"[red]invalid:[/red] {escape(str(NotFound('incident', incident_id)))}")
                raise typer.Exit(2)
            yield session, settings
    finally:
        engine.dispose()


def _attempt(session: Session, notice: Notice, kind: str) -> DeliveryAttempt | None:
    from sqlmodel import select

    from incident.adapters.tables import DeliveryAttempt

    return session.exec(
        select(DeliveryAttempt).where(
            DeliveryAttempt.incident_id == notice.incident_id,
            DeliveryAttempt.addressee_kind == kind,
            DeliveryAttempt.addressee_id == notice.addressee_id,
            DeliveryAttempt.notice_version == notice.version,
        )
    ).first()


def _summary(attempt: DeliveryAttempt | None) -> dict[str, Any] | None:
    if attempt is None:
        return None
    return {"status": attempt.status, "at": attempt.provider_id, "error": attempt.error}


@public_app.command("show")
def show(incident_id: str, as_json: JsonOption = False) -> None:
    """The public notice: why it exists (rule, reason, citation), status and published versions."""
    from sqlmodel import col, select

    from channels.safe_files import inside
    from incident.adapters.tables import AuditEvent, Notice

    with _session(incident_id) as (session, settings):
        notices = session.exec(
            select(Notice)
            .where(Notice.incident_id == incident_id, Notice.addressee_kind == "public")
            .order_by(col(Notice.version))
        ).all()
        decided = session.exec(
            select(AuditEvent).where(
                AuditEvent.incident_id == incident_id, AuditEvent.kind == "public_notice_decided"
            )
        ).all()
        rows = [
            {
                "version": n.version,
                "status": n.status,
                "reason": n.reason,
                "attempt": _summary(_attempt(session, n, "public")),
            }
            for n in notices
        ]
        configured = settings.channels.get("announcement", {}).get("web_root")
        web_root = Path(configured) if configured else settings.out_dir / "public"
    manifest_path = inside(web_root, "notices", incident_id, "manifest.json")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    result: dict[str, Any] = {
        "incident": incident_id,
        "notices": rows,
        "decisions": [d.detail | {"at": d.at.isoformat()} for d in decided],
        "manifest": manifest,
    }
    if as_json:
        out.print_json(json.dumps(result, default=str))
        return
    if not rows:
        out.print(f"No public notice for {escape(incident_id)}: no rule calls for one (yet).")
        return
    for d in result["decisions"]:
        out.print(f"[bold]{d['mode']}[/bold] individual notice, decided {d['at']}")
        for g in d["grounds"]:
            out.print(
                f"  {escape(g['obligation'])}: {escape(g['reason'])} — {escape(g['citation'])}"
            )
    for r in rows:
        out.print(f"notice v{r['version']}: {r['status']} {escape(str(r['attempt'] or ''))}")
    for v in (manifest or {}).get("versions", []):
        out.print(f"published v{v['version']} at {v['published_at']}: {len(v['files'])} files")


@reports_app.command("list")
def list_reports(incident_id: str, as_json: JsonOption = False) -> None:
    """Every report version: obligation, phase, status, missing items, submission."""
    from rich.table import Table
    from sqlmodel import col, select

    from incident.adapters.tables import Notice, RegulatorReport

    with _session(incident_id) as (session, _):
        reports = session.exec(
            select(RegulatorReport)
            .where(RegulatorReport.incident_id == incident_id)
            .order_by(col(RegulatorReport.chain), col(RegulatorReport.version))
        ).all()
        rows = []
        for r in reports:
            notice = session.get(Notice, r.notice_id) if r.notice_id else None
            attempt = _attempt(session, notice, "authority") if notice else None
            rows.append(
                {
                    "name": r.name,
                    "obligation": r.obligation_key,
                    "kind": r.kind,
                    "phase": r.phase,
                    "supersedes": r.supersedes,
                    "report": r.status,
                    "missing": r.missing,
                    "notice": notice.status if notice else None,
                    "submitted": attempt.status if attempt else None,
                    "detail": (attempt.error or attempt.provider_id) if attempt else None,
                }
            )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    columns = ("name", "kind", "report", "missing", "notice", "submitted")
    table = Table(title=f"Reports: {incident_id}")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(_cell(row[c])) for c in columns))
    table_console().print(table)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    return "" if value is None else str(value)


@reports_app.command("set")
def set_item(incident_id: str, item: str, text: str) -> None:
    """Give a report item the incident record lacks (root cause, reasons for delay...)."""
    from sqlmodel import select

    from incident.adapters.tables import Notice, RegulatorReport, ReportItem
    from incident.service.job_outbox import enqueue_notices
    from incident.service.report_filing import refresh_report, report_items

    now = datetime.now(UTC)
    with _session(incident_id) as (session, _):
        known = report_items(session, incident_id)
        if item not in known:
            listed = ", ".join(known) if known else f"none: no report of {incident_id} yet"
            err.print(
                f"[red]invalid:[/red] item: {escape(repr(item))} is not an item of "
                f"{escape(incident_id)}'s reports; items: {escape(listed)}",
                soft_wrap=True,
            )
            raise typer.Exit(2)
        row = session.get(ReportItem, (incident_id, item)) or ReportItem(
            incident_id=incident_id, item=item, text=text
        )
        row.text, row.recorded_at = text, now
        session.add(row)
        session.flush()
        unblocked = []
        for report in session.exec(
            select(RegulatorReport).where(
                RegulatorReport.incident_id == incident_id, RegulatorReport.status == "blocked"
            )
        ).all():
            refresh_report(session, report, now=now)
            if report.status == "ready":
                unblocked.append(report.name)
                notice = session.get(Notice, report.notice_id) if report.notice_id else None
                if notice is not None:  # queued with the item: the relay files it at once
                    enqueue_notices(session, [notice])
        session.commit()
    out.print(f"{escape(item)} recorded; unblocked: {', '.join(unblocked) or 'none'}")
