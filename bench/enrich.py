#!/usr/bin/env python3
"""Enrichment at scale: a generated directory, a forensic records scope of the same size.

    .venv/bin/python bench/enrich.py --people 1000000
    .venv/bin/python bench/enrich.py --people 1000000 --database-url postgresql://postgres@127.0.0.1/test

Seeds the sample directory (`incident.service.sample`; PostgreSQL through COPY, SQLite through
`save_people`) in a child process, so that neither its time nor its memory is counted; writes
a forensic records CSV (`key_type,key,categories`, one row per person, by id) to a temporary
directory; then runs `enrich_incident` directly with a publisher that only counts, and prints
persons/s, the time to the first published notice and this process's peak RSS.

`--directory imported` (the default) seeds each contact point with the verdict of the checks of
`--channels`, as `people import` records it when it writes the point, so enrichment reads it;
`--directory unchecked` leaves them unchecked (a directory written by other means), and
enrichment checks every point (phone numbers cost ~25 us each).

PostgreSQL: everything lives in a schema of its own (`bench_enrich_<pid>`), dropped at the end.
Target (PERFORMANCE.md): >= 20,000 persons/s on PostgreSQL, first notice < 5 s, RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlmodel import Session

from channels import REGISTRY
from incident.adapters.db import make_engine, upgrade_to_head
from incident.adapters.tables import Incident
from incident.domain.contacts import Checks
from incident.service.directory import check_new_points, contact_points_of, save_people
from incident.service.enrich import EnrichContext, enrich_incident
from incident.service.sample import sample_people

CATEGORIES = [["contact"], ["contact", "credentials"], ["contact", "financial"], ["identifiers"]]
_PERSON = ("id", "name", "locale", "country", "region", "birth_date", "is_minor",
           "guardian_id", "channel_preferences")  # fmt: skip


class CountingPublisher:
    """Counts the jobs; notes when the first one was published."""

    def __init__(self) -> None:
        self.count = 0
        self.first_at: float | None = None

    def publish_all(self, topic: str, items: Any) -> int:
        n = sum(1 for _ in items)
        if n and self.first_at is None:
            self.first_at = time.perf_counter()
        self.count += n
        return n


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _copy_rows(
    rows: Iterator[dict[str, Any]], checks: Checks | None
) -> tuple[io.StringIO, io.StringIO]:
    people, points = io.StringIO(), io.StringIO()
    pw, cw = csv.writer(people), csv.writer(points)
    for r in rows:
        pw.writerow(
            [r["id"], r["name"], r["locale"], r["country"], r["region"] or None, None,
             r["is_minor"], r["guardian_id"], "[]"]
        )  # fmt: skip
        found = contact_points_of(r)
        if checks:  # what `people import` records as it writes each point
            check_new_points(found, {r["id"]: r["country"]}, checks)
        for p in found:
            cw.writerow([p["person_id"], p["kind"], p["value"], json.dumps(p["details"]),
                         p["preference"], p.get("problem"), p.get("checked_at")])  # fmt: skip
    people.seek(0)
    points.seek(0)
    return people, points


def _batches(n: int, size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in sample_people(n):
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(url: str, schema: str | None, n: int, channels: list[str] | None) -> None:
    """The directory; PostgreSQL through COPY (guardians come before their wards). With
    `channels`, each contact point carries the verdict of their checks, as after an import."""
    checks = _checks(channels) if channels else None
    engine = make_engine(url, schema=schema, sqlite_synchronous="OFF")
    upgrade_to_head(engine)
    if schema is None:
        with Session(engine) as session:
            for batch in _batches(n, 10_000):
                save_people(session, batch, checks)
            session.commit()
        engine.dispose()
        return
    engine.dispose()
    with psycopg.connect(_pg_dsn(url), options=f"-csearch_path={schema}") as conn:
        for batch in _batches(n):
            people, points = _copy_rows(iter(batch), checks)
            with conn.cursor() as cur:
                with cur.copy(f"COPY person ({','.join(_PERSON)}) FROM STDIN (FORMAT csv)") as cp:
                    cp.write(people.getvalue())
                with cur.copy(
                    "COPY contact_point (person_id, kind, value, details, preference, problem, "
                    "checked_at) "
                    "FROM STDIN (FORMAT csv)"
                ) as cp:
                    cp.write(points.getvalue())
        conn.execute("ANALYZE")


def write_records(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["key_type", "key", "categories"])
        for i in range(1, n + 1):
            out.writerow(["id", f"p-{i:07d}", ";".join(CATEGORIES[i % len(CATEGORIES)])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--channels", default="email,sms", help="channels whose contact checks run")
    parser.add_argument("--profile", default="", help="write cProfile stats to this file")
    parser.add_argument(
        "--directory",
        choices=("imported", "unchecked"),
        default="imported",
        help="imported: contact points carry the verdicts `people import` records (enrichment "
        "reads them); unchecked: points written without checks (enrichment checks each one)",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bn-enrich-"))
    url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    schema = f"bench_enrich_{os.getpid()}" if url.startswith("postgresql") else None
    if schema:
        with psycopg.connect(_pg_dsn(url), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        run(args, url, schema, scratch)
    finally:
        if schema:
            with psycopg.connect(_pg_dsn(url), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat (Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0, 1
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _checks(channels: list[str]) -> Checks:
    return {kind: REGISTRY[c].check for c in channels for kind in REGISTRY[c].contact_kinds}


def run(args: argparse.Namespace, url: str, schema: str | None, scratch: Path) -> None:
    started = time.perf_counter()
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    imported = args.directory == "imported"
    child = multiprocessing.get_context("spawn").Process(
        target=seed, args=(url, schema, args.people, channels if imported else None)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"seeding failed ({child.exitcode})")
    records = scratch / "records.csv"
    write_records(records, args.people)
    print(f"seeded {args.people:,} people and wrote {args.people:,} records "
          f"in {time.perf_counter() - started:.1f} s (not counted)")  # fmt: skip
    engine = make_engine(url, schema=schema, sqlite_synchronous="NORMAL")
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(Incident(id="bench", title="bench", severity="high", status="raised",
                             categories=["contact"], scope={"records_file": str(records)},
                             aware_at=now))  # fmt: skip
        session.commit()
    checks = _checks(channels)
    publisher = CountingPublisher()
    ctx = EnrichContext(publisher, "notices", checks, {"default": 18}, now)
    event = {"incident_id": "bench", "event_id": "bench-1"}
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    busy0, cpu0 = _machine_busy(), time.process_time()
    t0 = time.perf_counter()
    result = enrich_incident(engine, event, ctx)
    took = time.perf_counter() - t0
    cpu, busy = time.process_time() - cpu0, _machine_busy()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    engine.dispose()
    first = (publisher.first_at - t0) if publisher.first_at else float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine_name = "postgresql" if schema else "sqlite"
    print(f"{engine_name}: {result.affected:,} affected, {publisher.count:,} jobs published, "
          f"{result.malformed:,} malformed, checks: {','.join(channels)}, "
          f"directory: {args.directory}")  # fmt: skip
    print(f"enrichment {took:.1f} s = {result.affected / took:,.0f} persons/s; "
          f"first notice published after {first:.2f} s; peak RSS {peak:,.0f} MB")  # fmt: skip
    cores = os.cpu_count() or 1
    used = (busy[0] - busy0[0]) / max(busy[1] - busy0[1], 1) * cores
    print(f"cpu: this process {cpu / took:.2f} cores, the whole machine {used:.2f} of {cores} "
          f"(the database is the rest)")  # fmt: skip


if __name__ == "__main__":
    main()
