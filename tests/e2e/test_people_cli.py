"""User story: an operator loads the user directory from a file with `breachnotice people
import`; bad rows are listed precisely, the rest is imported, and the exit code says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from incident.adapters.db import make_engine
from incident.adapters.tables import ContactPoint, Person

CSV = (
    "id,name,country,region,email,phone,postal_street,postal_city,postal_country\n"
    "p1,Anna,NL,,anna@example.org;a2@example.org,+31612345678,Dam 1,Amsterdam,NL\n"
    "p2,Bo,US,CA,bo@example.org,,,,\n"
    "p3,Cy,NL,,cy@@example.org,,,,\n"
)


def people_import(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "breachnotice"), "people", "import", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"BREACHNOTICE_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )


@pytest.fixture()
def people_csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    return path


def test_import_reports_bad_rows_and_exits_2(sqlite_url: str, people_csv: Path) -> None:
    done = people_import(sqlite_url, str(people_csv), "--json")
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout) == {
        "rows": 3, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 1,
        "unusable_contact_points": 1, "guardians_unlinked": 0, "dry_run": False,
    }  # fmt: skip
    assert "line 4: email: 'cy@@example.org' is invalid: not a usable email address" in done.stderr
    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        assert sorted(p.id for p in s.exec(select(Person))) == ["p1", "p2"]
        # Anna's address has no postal code, which Dutch mail needs: kept, with the reason.
        postal = s.exec(select(ContactPoint).where(ContactPoint.kind == "postal")).one()
        assert postal.problem is not None and postal.checked_at is not None
    engine.dispose()
    again = people_import(sqlite_url, str(people_csv))
    assert "3 rows: 0 inserted, 0 updated, 2 unchanged, 1 rejected" in again.stdout


def test_dry_run_of_a_clean_file_exits_0(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    path.write_text(json.dumps({"id": "p1", "name": "Anna", "country": "NL"}) + "\n")
    done = people_import(sqlite_url, str(path), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "dry run: 1 rows, 1 valid, 0 rejected; nothing written"
