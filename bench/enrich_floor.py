#!/usr/bin/env python3
"""PostgreSQL's own cost per person of what enrichment reads and writes, in SQL alone.

    .venv/bin/python bench/enrich_floor.py --people 200000

Builds the schema in a scratch schema (`bench_floor_<pid>`, dropped at the end), fills a
directory with two contact points a person, then times, one set-based statement each, what
enrichment does per person: read the person row and their contact points by id, insert the
AffectedPerson and Notice rows, insert two dedupe keys into a temporary table with a primary
key. No Python runs per row, so the total is the floor under any client: compare it with the
persons/s of `bench/enrich.py` to see which side a run is waiting for.
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg

from incident.adapters.db import make_engine, upgrade_to_head

_PERSON_ID = "'p-' || lpad(i::text, 7, '0')"
STEPS = {
    "read person rows": "SELECT count(*) FROM (SELECT * FROM person "
    "WHERE id = ANY(array(SELECT id FROM person))) x",
    "read contact points": "SELECT count(*) FROM (SELECT * FROM contact_point "
    "WHERE person_id = ANY(array(SELECT id FROM person))) x",
    "insert affected_person": "INSERT INTO affected_person (incident_id, person_id, jurisdiction, "
    "categories, risk, is_minor, recipient_id, contact_problems) "
    "SELECT 'b', id, 'NL', '[\"contact\"]', 'low', false, id, '{}' FROM person",
    "insert notice": "INSERT INTO notice (incident_id, addressee_kind, addressee_id, person_id, "
    "recipient_id, version, status, created_at) "
    "SELECT 'b', 'person', id, id, id, 1, 'pending', now() FROM person",
    "insert 2 dedupe keys": "INSERT INTO keys SELECT md5(id || k), id FROM person, "
    "unnest(array['e', 'p']) k",
}


def _incident(conn: psycopg.Connection) -> None:
    """One incident row, every required column given a neutral value."""
    required = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
        "'incident' AND table_schema = current_schema() AND is_nullable = 'NO' "
        "AND column_default IS NULL"
    ).fetchall()
    given = {"id": "'b'", "severity": "'high'", "status": "'raised'", "notice_version": "1"}
    values = [
        given.get(name, "'{}'" if kind == "json" else "now()" if "time" in kind else "'b'")
        for name, kind in required
    ]
    names = ", ".join(name for name, _ in required)
    conn.execute(f"INSERT INTO incident ({names}) VALUES ({', '.join(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1/test")
    args = parser.parse_args()
    url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"bench_floor_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        engine = make_engine(url, schema=schema)
        upgrade_to_head(engine)
        engine.dispose()
        run(url, schema, args.people)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run(url: str, schema: str, n: int) -> None:
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        conn.execute(
            "INSERT INTO person (id, name, locale, country, is_minor, channel_preferences) "
            f"SELECT {_PERSON_ID}, 'x', 'en', 'NL', false, '[]' FROM generate_series(1, %s) i",
            [n],
        )
        conn.execute(
            "INSERT INTO contact_point (person_id, kind, value, details, preference) "
            f"SELECT {_PERSON_ID}, k, k || i, '{{}}', 0 FROM generate_series(1, %s) i, "
            "unnest(array['email', 'phone']) k",
            [n],
        )
        _incident(conn)
        conn.execute("CREATE TEMPORARY TABLE keys (k varchar(32) PRIMARY KEY, p text)")
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
        total = 0.0
        for label, statement in STEPS.items():
            started = time.perf_counter()
            conn.execute(statement)
            conn.commit()
            took = time.perf_counter() - started
            total += took
            print(f"{label:24s} {took / n * 1e6:5.1f} us a person")
        print(f"{'total':24s} {total / n * 1e6:5.1f} us a person = "
              f"{n / total:,.0f} persons/s on one core")  # fmt: skip


if __name__ == "__main__":
    main()
