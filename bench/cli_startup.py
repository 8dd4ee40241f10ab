#!/usr/bin/env python3
"""CLI start-up: wall time of `breachnotice --help` and of an argument error, and what the
entry module imports.

    .venv/bin/python bench/cli_startup.py              # 9 runs of each, top 15 imports
    .venv/bin/python bench/cli_startup.py --runs 21 --top 25

Each run is a fresh interpreter (subprocess, the way a shell starts the console script) running
`incident.entrypoints.cli:main` from this checkout; the time is the wall time from spawn to
exit, so it includes the interpreter's own start-up. The median of the runs is printed, with
the fastest and slowest. The argument error is `breachnotice demo --people many` (exit 2
before any work). The import list is `python -X importtime -c "import ...cli"`: the modules
with the largest cumulative import time, in microseconds as Python reports them.

Target (issue 27): both under 0.3 s on the development machine (2 cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "from incident.entrypoints.cli import main; main()"
CASES = {"--help": ["--help"], "argument error": ["demo", "--people", "many"]}


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "100"}


def wall_times(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            env=_env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        times.append(time.perf_counter() - started)
    return times


def top_imports(n: int) -> list[tuple[int, str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import incident.entrypoints.cli"],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--top", type=int, default=15)
    options = parser.parse_args()
    subprocess.run([sys.executable, "-c", ENTRY, "--help"], env=_env(), capture_output=True)
    for label, args in CASES.items():
        times = wall_times(args, options.runs)
        print(
            f"{label:>15}: median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}, {options.runs} runs)"
        )
    print(f"\ntop {options.top} imports of incident.entrypoints.cli (cumulative µs):")
    for cumulative, name in top_imports(options.top):
        print(f"{cumulative:>10}  {name}")


if __name__ == "__main__":
    main()
