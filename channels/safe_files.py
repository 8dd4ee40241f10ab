"""Files named or filled by outside data, made safe in one place.

- `ID_RE`/`id_problem`: the character set of person and incident ids (README, "The directory"):
  1 to 128 of `A-Z a-z 0-9 . _ : @ -`, not starting with `.` — so an id is always one harmless
  file name component (no `/`, no `..`, no hidden file).
- `inside(folder, *parts)`: a path under `folder` built from outside data, resolved and refused
  (ValueError) unless it stays inside `folder`.
- `csv_cell`/`csv_row`: a cell a spreadsheet would run as a formula (starting with `= + - @`,
  tab or CR) is prefixed with `'` (OWASP CSV injection); every CSV writer of the repo uses them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

ID_RE = re.compile(r"[A-Za-z0-9_:@-][A-Za-z0-9._:@-]{0,127}")
ID_RULE = "must be 1-128 characters of A-Z a-z 0-9 . _ : @ - and not start with '.'"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def id_problem(value: str) -> str | None:
    """Why `value` is not a usable person or incident id (None: it is)."""
    return None if ID_RE.fullmatch(value) else ID_RULE


def inside(folder: Path, *parts: str) -> Path:
    """`folder / parts…`; ValueError when outside data would lead out of `folder` (checked on
    the resolved path: `..`, an absolute part, a symbolic link pointing out)."""
    root = folder.resolve()
    if root.joinpath(*parts).resolve() == root or "\0" in "".join(parts):
        raise ValueError(f"{'/'.join(parts)[:80]!r} names no file inside {folder}")
    if not root.joinpath(*parts).resolve().is_relative_to(root):
        raise ValueError(f"{'/'.join(parts)[:80]!r} would lead outside {folder}")
    return folder.joinpath(*parts)


def csv_cell(value: object) -> str:
    """`value` as a CSV cell no spreadsheet runs: a leading formula character gets a `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(values: Iterable[object]) -> list[str]:
    return [csv_cell(v) for v in values]


def write_csv(
    out: TextIO,
    header: Sequence[str],
    rows: Iterable[Iterable[object]],
    *,
    lineterminator: str = "\r\n",
) -> None:
    """The one CSV writer of the repo: a header, then each row with every cell escaped."""
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(csv_row(header))
    writer.writerows(csv_row(row) for row in rows)
