"""Measure `breachnotice people import` on a generated directory file.

    .venv/bin/python bench/directory_import.py --rows 200000
    .venv/bin/python bench/directory_import.py --rows 200000 --database-url postgresql://...

Generates a CSV (every documented column, two emails on every tenth row, one bad row in a
thousand) in a temporary directory, imports it into a fresh SQLite file (or the given URL),
imports it again (every row an update check), and prints rows/s and the peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

from incident.adapters.db import make_engine, upgrade_to_head
from incident.bootstrap import directory_checks
from incident.service.directory_import import import_people
from incident.settings import Settings

COLUMNS = ["id", "name", "email", "phone", "locale", "country", "region", "birth_date",
           "guardian_id", "channel_preferences", "postal_street", "postal_city",
           "postal_postal_code", "postal_country"]  # fmt: skip


def generate(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for i in range(rows):
            email = f"user{i}@example.org" + (f";alt{i}@example.net" if i % 10 == 0 else "")
            country, region = ("US", "CA") if i % 3 == 0 else ("NL", "")
            birth = "2099-01-01" if i % 1000 == 999 else f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}"
            out.writerow([f"u{i:08d}", f"User {i}", email, f"+3161{i % 10**7:07d}", "nl",
                          country, region, birth, "", "email", f"Straat {i}", "Utrecht",
                          "3511 AA", "NL"])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "people.csv"
        started = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        engine = make_engine(args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}",
                             sqlite_synchronous="NORMAL")  # fmt: skip
        upgrade_to_head(engine)
        for label in ("first import (inserts)", "second import (no changes)"):
            started = time.perf_counter()
            # As the CLI does: each new contact point checked as it is written.
            summary = import_people(engine, path, channels=("email",), batch_size=args.batch_size,
                                    checks=directory_checks(Settings()))  # fmt: skip
            took = time.perf_counter() - started
            print(f"{label}: {summary.rows:,} rows in {took:.1f} s = {summary.rows / took:,.0f} "
                  f"rows/s; inserted {summary.inserted:,}, updated {summary.updated:,}, "
                  f"unchanged {summary.unchanged:,}, rejected {summary.rejected:,}, "
                  f"contact points kept as unusable {summary.unusable_points:,}")  # fmt: skip
        engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
