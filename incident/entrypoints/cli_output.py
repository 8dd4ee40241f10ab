"""Where the CLI's tables go: a terminal's width on a terminal, the table's own width elsewhere
(a pipe or a file gets every column whole, not cut at 80)."""

from __future__ import annotations

import sys

from rich.console import Console

UNBOUNDED = 10_000  # a table is only as wide as its widest cells; this is its ceiling


def table_console(*, width: int | None = None) -> Console:
    """A console for tables: `width` (or the terminal's) on a tty, full width when not."""
    if sys.stdout.isatty():
        return Console(width=width)
    return Console(width=UNBOUNDED, soft_wrap=False)
