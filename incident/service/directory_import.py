"""`breachnotice people import FILE`: a CSV or JSON Lines directory file, upserted by person id.

The file is streamed: rows are validated one by one (`incident.domain.directory_rows`) and
written in batches of `batch_size`, one transaction per batch, so a file of millions of rows
never sits in memory. A bad row is reported (line, field, value, rule) through `on_problem`
and nothing of it is written; the other rows go on. The merge rule (which fields replace,
which contact points are added) is `incident.service.directory`'s docstring.

CSV: a header row with the columns of `directory_rows` (`id`, `name` and `country` required),
UTF-8 (a BOM is fine), `;` between several values in one cell. JSON Lines: one object per
line with the same keys, lists for several values, `postal_address` as an object.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.domain.contacts import Checks
from incident.domain.directory_rows import (
    KNOWN_FIELDS,
    PersonRecord,
    RowProblem,
    RowRejected,
    parse_row,
)
from incident.errors import InvalidInput, InvalidInputs
from incident.service.directory import link_guardians, upsert_records

BATCH = 5000
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
REQUIRED_COLUMNS = ("id", "name", "country")


@dataclass
class ImportSummary:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    unusable_points: int = 0  # contact points kept with the reason a check gave
    guardians_unlinked: int = 0
    dry_run: bool = False

    @property
    def valid(self) -> int:
        return self.rows - self.rejected

    @property
    def clean(self) -> bool:
        return self.rejected == 0 and self.guardians_unlinked == 0


def file_format(path: Path, given: str | None = None) -> str:
    fmt = given or FORMATS.get(path.suffix.lower())
    if fmt not in ("csv", "jsonl"):
        rule = "give --format csv or jsonl, or name the file *.csv / *.jsonl"
        raise InvalidInputs([InvalidInput("file", str(path), rule)])
    return fmt


def import_people(
    engine: Engine,
    path: Path,
    *,
    channels: Collection[str],
    fmt: str | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH,
    on_problem: Callable[[RowProblem], None] = lambda _: None,
    on_progress: Callable[[int], None] = lambda _: None,
    checks: Checks | None = None,
) -> ImportSummary:
    """Validate every row and (unless `dry_run`) upsert the valid ones, batch by batch. New
    contact points are checked with `checks` (by kind) as they are written."""
    summary = ImportSummary(dry_run=dry_run)
    pending: list[tuple[str, str, int]] = []
    batch: list[PersonRecord] = []
    today = date.today()
    with path.open("rb") as binary, io.TextIOWrapper(binary, "utf-8-sig", newline="") as handle:
        for line, raw in _rows(handle, file_format(path, fmt)):
            summary.rows += 1
            try:
                if isinstance(raw, RowProblem):
                    raise RowRejected([raw])
                batch.append(parse_row(raw, line=line, channels=channels, today=today))
            except RowRejected as exc:
                summary.rejected += 1
                for problem in exc.problems:
                    on_problem(problem)
            if len(batch) >= batch_size:
                _write(engine, batch, summary, pending, checks)
                batch = []
                on_progress(binary.tell())
        _write(engine, batch, summary, pending, checks)
        on_progress(binary.tell())
    if pending and not dry_run:
        _link_late_guardians(engine, pending, summary, on_problem)
    return summary


def _write(
    engine: Engine,
    batch: list[PersonRecord],
    summary: ImportSummary,
    pending: list[tuple[str, str, int]],
    checks: Checks | None,
) -> None:
    if not batch or summary.dry_run:
        return
    with Session(engine) as session:
        result = upsert_records(session, batch, checks)
        session.commit()
    summary.inserted += result.inserted
    summary.updated += result.updated
    summary.unchanged += result.unchanged
    summary.unusable_points += result.unusable_points
    pending += result.guardians_pending


def _link_late_guardians(
    engine: Engine,
    pending: list[tuple[str, str, int]],
    summary: ImportSummary,
    on_problem: Callable[[RowProblem], None],
) -> None:
    with Session(engine) as session:
        unlinked = link_guardians(session, pending)
        session.commit()
    guardian_of = {line: guardian for _, guardian, line in pending}
    for line in unlinked:
        rule = "no person with this id in the directory or the file; imported without a guardian"
        on_problem(RowProblem(line, "guardian_id", guardian_of[line], rule))
    summary.guardians_unlinked = len(unlinked)


def _rows(handle: IO[str], fmt: str) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
    if fmt == "csv":
        yield from _csv_rows(handle)
    else:
        yield from _jsonl_rows(handle)


def _csv_rows(handle: IO[str]) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    if len(header) > len(KNOWN_FIELDS):  # a million columns is refused at once, not listed
        rule = f"more columns than the {len(KNOWN_FIELDS)} known fields"
        raise InvalidInputs([InvalidInput("header", f"{len(header)} columns", rule)])
    doubled = [name for name, times in Counter(header).items() if times > 1]
    problems = [InvalidInput("header", name, "duplicate column") for name in sorted(doubled)]
    problems += [
        InvalidInput("header", name, f"unknown column; use {', '.join(sorted(KNOWN_FIELDS))}")
        for name in header
        if name not in KNOWN_FIELDS
    ]
    problems += [
        InvalidInput("header", name, "required column is missing")
        for name in REQUIRED_COLUMNS
        if name not in header
    ]
    if problems:
        raise InvalidInputs(problems)
    for raw in reader:
        if None in raw:  # more cells than header columns
            extra = raw.pop(None)
            yield (
                reader.line_num,
                RowProblem(reader.line_num, "(row)", extra, "more cells than columns"),
            )
            continue
        yield reader.line_num, {k: v for k, v in raw.items() if v is not None}


def _jsonl_rows(handle: IO[str]) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, RowProblem(line, "(line)", text[:80], f"not JSON: {exc.msg}")
            continue
        if not isinstance(raw, dict):
            yield line, RowProblem(line, "(line)", text[:80], "must be a JSON object")
            continue
        yield line, raw
