"""`breachnotice obligations` and `breachnotice deadlines`: who must be told, by when, and why.

    breachnotice obligations assess FACTS.yaml [--json]   what-if, nothing stored
    breachnotice obligations INCIDENT_ID [--json]         a stored incident (recomputed)
    breachnotice deadlines [--now TIME] [--json]          every open obligation, soonest first,
                                                          with the deadline alerts sent for it

Bad input (facts, rules file, unknown incident) exits with code 2 and the precise message on
standard error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from incident.entrypoints.cli_output import table_console
from incident.errors import ConfigError, DocumentError, InvalidInput, InvalidInputs, NotFound

if TYPE_CHECKING:
    from sqlmodel import Session

    from incident.adapters.obligation_tables import ObligationRecord
    from incident.adapters.tables import AlertSent
    from incident.obligations import Rules

Rows = Sequence[dict[str, Any]]


def register(app: typer.Typer) -> None:
    """Add the `obligations` and `deadlines` commands to the `breachnotice` CLI."""
    app.command("obligations")(obligations_command)
    app.command("deadlines")(deadlines_command)


def obligations_command(
    what: Annotated[str, typer.Argument(help="'assess' for a facts file, or an incident id.")],
    facts_file: Annotated[
        Path | None, typer.Argument(help="With 'assess': the facts YAML file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array instead of a table.")
    ] = False,
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Another rules file (default: the shipped one).")
    ] = None,
) -> None:
    """Who must be told, by when and why: for a facts file (what-if) or a stored incident."""
    from incident.obligations import assess, load_facts_file, load_rules

    with _bad_input_exits():
        rules = load_rules(rules_file)
        if what == "assess":
            if facts_file is None:
                raise InvalidInput(
                    "FACTS", None, "give the facts file: obligations assess FACTS.yaml"
                )
            rows = [ob.to_json() for ob in assess(load_facts_file(facts_file, rules.flags), rules)]
        else:
            rows = _stored(what, rules)
    _print(rows, as_json, title=f"Obligations: {facts_file or what}")


def deadlines_command(
    now: Annotated[
        str | None, typer.Option(help="Count time left from this ISO 8601 time (default: now).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array instead of a table.")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Met obligations too, with the time they were met.")
    ] = False,
) -> None:
    """Every open obligation of every incident with its time left, soonest first."""
    from rich.table import Table

    from incident.service.alerts import alerts_by_obligation
    from incident.service.obligations import open_obligations

    with _bad_input_exits():
        at = _parse_now(now)
        with _session() as session:
            records = [r for r in open_obligations(session) if show_all or r.status == "open"]
            alerted = alerts_by_obligation(session)
    records.sort(key=_soonest)
    if as_json:
        rows = [r.to_json() | {"incident_id": r.incident_id, "time_left_seconds": _left(r, at),
                               "alerts": _alerts_json(alerted.get((r.incident_id, r.key), []))}
                for r in records]  # fmt: skip
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    what = "Obligations" if show_all else "Open obligations"
    table = Table(title=f"{what} at {at.isoformat(timespec='minutes')}")
    columns = ("time left", "due", "incident", "regime", "recipient", "stage", "where")
    for name in (*columns, "alerted"):  # alerted: deadline alerts sent to the owners, per point
        table.add_column(name)
    for r in records:
        left, style = _time_left(r, at)
        if r.status == "met" and r.met_at is not None:
            left, style = f"met {r.met_at.astimezone(UTC):%Y-%m-%d %H:%M}", "dim"
        sent = _alerts_text(alerted.get((r.incident_id, r.key), []))
        when = r.due or r.target
        shown = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if when else "—"
        table.add_row(left, shown + ("" if r.due or not when else " (target)"), r.incident_id,
                      r.regime, r.recipient, r.stage, r.jurisdiction,
                      sent, style=style)  # fmt: skip
    table_console().print(table)


def _alerts_json(rows: Sequence[AlertSent]) -> list[dict[str, Any]]:
    return [{"point": a.point, "owner": a.owner, "channel": a.channel, "status": a.status,
             "sent_at": a.sent_at.isoformat() if a.sent_at else None} for a in rows]  # fmt: skip


def _alerts_text(rows: Sequence[AlertSent]) -> str:
    """Per point: when it went out, or its state ("24h 05-03 12:00, 6h failed")."""
    by_point: dict[str, list[AlertSent]] = {}
    for a in rows:
        by_point.setdefault(a.point, []).append(a)
    shown = []
    for point, group in by_point.items():
        sent = [a.sent_at for a in group if a.sent_at]
        state = min(sent).astimezone(UTC).strftime("%m-%d %H:%M") if sent else group[0].status
        shown.append(f"{point} {state}")
    return ", ".join(shown) or "—"


@contextmanager
def _bad_input_exits() -> Iterator[None]:
    err = Console(stderr=True, highlight=False)
    try:
        yield
    except InvalidInputs as exc:
        for e in exc.errors:
            err.print(f"[red]invalid:[/red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    except (InvalidInput, DocumentError, ConfigError, NotFound) as exc:
        err.print(f"[red]invalid:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc


@contextmanager
def _session() -> Iterator[Session]:
    from sqlmodel import Session

    from incident.adapters.db import check_schema, make_engine
    from incident.settings import Settings

    engine = make_engine(Settings().database_url)
    try:
        check_schema(engine, auto_upgrade=Settings().database_auto_upgrade)
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def _stored(incident_id: str, rules: Rules) -> list[dict[str, Any]]:
    from incident.service.obligations import recompute_obligations

    with _session() as session:
        records = recompute_obligations(session, incident_id, now=datetime.now(UTC), rules=rules)
        session.commit()
        return [r.to_json() for r in sorted(records, key=_soonest)]


def _print(rows: Rows, as_json: bool, *, title: str) -> None:
    from rich.table import Table

    if as_json:
        typer.echo(json.dumps(list(rows), indent=2, ensure_ascii=False))
        return
    table = Table(title=title, show_lines=True)
    for name in ("due", "regime", "recipient", "stage", "where", "why", "citation"):
        table.add_column(name, overflow="fold")
    for row in rows:
        due = row["due"] or (f"target {row['target']}" if row["target"] else "clock not started")
        sub = row.get("substitute_notice") or {}
        if sub and sub["decision"] != "individual":
            why = f"{row['reason']}\nsubstitute notice: {sub['decision']}: {sub['reason']}"
        else:
            why = row["reason"]
        table.add_row(due, row["regime"], row["recipient"], row["stage"],
                      row["jurisdiction"] or "-", why, row["citation"])  # fmt: skip
    table_console(width=160).print(table)


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidInput("--now", text, "must be an ISO 8601 time with offset")
    return at


def _soonest(r: ObligationRecord) -> tuple[int, float, str]:
    when = r.due or r.target
    return (0, when.timestamp(), r.key) if when else (1, 0.0, r.key)


def _left(r: ObligationRecord, now: datetime) -> float | None:
    when = r.due or r.target
    return (when - now).total_seconds() if when else None


def _time_left(r: ObligationRecord, now: datetime) -> tuple[str, str]:
    """Time left in words and its colour: overdue red, under a day red, under 3 days yellow."""
    when = r.due or r.target
    if when is None:
        return "clock not started", "dim"
    left = when - now
    words = _span(abs(left))
    if left < timedelta(0):
        return f"OVERDUE {words}", "bold red"
    style = "red" if left < timedelta(days=1) else "yellow" if left < timedelta(days=3) else "green"
    return words, style if r.due else f"{style} italic"


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return (
        f"{hours // 24}d {hours % 24}h"
        if hours >= 24
        else f"{hours}h {delta.seconds % 3600 // 60}m"
    )
