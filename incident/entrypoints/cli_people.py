"""`breachnotice people`: the user directory.

    breachnotice people import people.csv              upsert by person id, batch by batch
    breachnotice people import people.jsonl --dry-run  validate only, write nothing

Bad rows are listed on standard error as `line N: field: value is invalid: rule`; the summary
(rows, inserted, updated, unchanged, rejected) goes to standard output. Exit code 2 when any
row was rejected (or a guardian was nowhere to be found), 0 otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from incident.errors import BreachNoticeError, ConfigError, InvalidInputs

if TYPE_CHECKING:
    from incident.service.directory_import import ImportSummary

BATCH = 5000  # rows per transaction: directory_import.BATCH (not imported here: start-up time)
people_app = typer.Typer(help="The user directory: import people.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `people` commands to the `breachnotice` CLI."""
    app.add_typer(people_app, name="people")


@people_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (header row) or JSON Lines file.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl; default: from the file name.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate every row, write nothing.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = BATCH,
    max_problems: Annotated[int, typer.Option(min=0, help="Problems listed at most.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Insert or update people (matched by id) and their contact points from FILE."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from channels import REGISTRY
    from incident.adapters.db import ensure_schema_current, make_engine
    from incident.bootstrap import directory_checks
    from incident.domain.directory_rows import RowProblem
    from incident.service.directory_import import file_format, import_people
    from incident.settings import Settings

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        settings = Settings()
        checks = directory_checks(settings)  # the push allow-list comes from the settings
        file_format(file, fmt)
        if not file.is_file():
            raise InvalidInputs([])
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except InvalidInputs as exc:
        err.print(f"{file}: {exc or 'no such file'}")
        raise typer.Exit(2) from exc
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    shown = 0

    def problem(p: RowProblem) -> None:
        nonlocal shown
        shown += 1
        if shown <= max_problems:
            err.print(str(p), markup=False)

    try:
        if not dry_run:
            auto = settings.database_auto_upgrade or engine.dialect.name == "sqlite"
            ensure_schema_current(engine, auto_upgrade=auto)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not err.is_terminal,
            transient=True,
        ) as progress:
            task = progress.add_task(f"importing {file.name}", total=file.stat().st_size)
            summary = import_people(
                engine,
                file,
                channels=REGISTRY.keys(),
                fmt=fmt,
                dry_run=dry_run,
                batch_size=batch_size,
                on_problem=problem,
                on_progress=lambda done: progress.update(task, completed=done),
                checks=checks,
            )
    except InvalidInputs as exc:
        err.print(f"{file}: not imported\n{exc}", markup=False)
        raise typer.Exit(2) from exc
    except BreachNoticeError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if shown > max_problems:
        err.print(f"... {shown - max_problems} more problems not shown")
    typer.echo(json.dumps(_as_dict(summary)) if as_json else _as_text(summary))
    raise typer.Exit(0 if summary.clean else 2)


def _as_dict(s: ImportSummary) -> dict[str, int | bool]:
    return {
        "rows": s.rows,
        "inserted": s.inserted,
        "updated": s.updated,
        "unchanged": s.unchanged,
        "rejected": s.rejected,
        "unusable_contact_points": s.unusable_points,
        "guardians_unlinked": s.guardians_unlinked,
        "dry_run": s.dry_run,
    }


def _as_text(s: ImportSummary) -> str:
    if s.dry_run:
        return f"dry run: {s.rows} rows, {s.valid} valid, {s.rejected} rejected; nothing written"
    text = (
        f"{s.rows} rows: {s.inserted} inserted, {s.updated} updated, "
        f"{s.unchanged} unchanged, {s.rejected} rejected"
    )
    if s.unusable_points:
        text += f", {s.unusable_points} contact points unusable (kept with the reason)"
    return text + (
        f", {s.guardians_unlinked} without their guardian" if s.guardians_unlinked else ""
    )
