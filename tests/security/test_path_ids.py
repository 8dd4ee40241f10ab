"""Issue 23, item 6: files named by outside data. A person id with `/` or `..` is refused at
import (line, field, rule; the good rows kept), and a path built from an id that got into the
database some other way (the live directory, an old import) never leads out of its folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from channels.announcement import FolderPublisher
from channels.safe_files import ID_RULE, id_problem, inside
from incident.adapters.db import create_schema, make_engine
from incident.adapters.documents import load_document
from incident.adapters.tables import AffectedPerson, ContactPoint, Person
from incident.domain.incident_spec import parse_incident_spec
from incident.entrypoints import cli_preview
from incident.entrypoints.cli import app
from incident.settings import config_dir
from tests.security.cli_run import breachnotice

HOSTILE_IDS = [
    "../../etc/passwd",
    "a/b",
    "..",
    ".hidden",
    "/abs",
    "x" * 129,
    "nul\x00byte",
    "back\\slash",
    "sp ace",
    "ünïcode",
]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_an_id_outside_the_documented_character_set_is_refused(value: str) -> None:
    assert id_problem(value) == ID_RULE


@pytest.mark.parametrize("value", ["p1", "user@example", "urn:x:42", "A.b_c-d", "-x", "9" * 128])
def test_ordinary_ids_are_accepted(value: str) -> None:
    assert id_problem(value) is None


def test_people_import_refuses_path_like_ids_and_keeps_the_good_rows(
    sqlite_url: str, tmp_path: Path
) -> None:
    rows = [{"id": "good-1", "name": "A", "country": "NL"}]
    rows += [{"id": pid, "name": "B", "country": "NL"} for pid in HOSTILE_IDS]
    rows += [{"id": "good-2", "name": "C", "country": "NL", "guardian_id": "../x"}]
    rows += [{"id": "good-3", "name": "D", "country": "NL"}]
    path = tmp_path / "people.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    done = breachnotice(
        "people", "import", str(path), env={"BREACHNOTICE_DATABASE_URL": sqlite_url}, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    for line in range(2, 2 + len(HOSTILE_IDS)):
        assert f"line {line}: id:" in done.stderr and ID_RULE in done.stderr
    assert f"line {len(rows) - 1}: guardian_id: '../x' is invalid: {ID_RULE}" in done.stderr
    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        assert sorted(p.id for p in s.exec(select(Person))) == ["good-1", "good-3"]
    engine.dispose()
    assert not list(tmp_path.parent.glob("passwd"))


@pytest.mark.parametrize(
    "parts", [("..", "x"), ("../../x",), ("/etc/passwd",), ("a", "..", "..", "x"), ("",), (".",)]
)
def test_a_path_from_outside_data_never_leads_out_of_its_folder(
    tmp_path: Path, parts: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        inside(tmp_path / "root", *parts)


def test_a_symbolic_link_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError):
        inside(tmp_path / "root", "link", "x")
    assert inside(tmp_path / "root", "a", "b.html") == tmp_path / "root" / "a" / "b.html"


def test_the_public_site_publisher_refuses_a_name_leading_out_of_the_web_root(
    tmp_path: Path,
) -> None:
    publisher = FolderPublisher(tmp_path / "public")
    with pytest.raises(ValueError):
        publisher.write("notices/../../escaped.html", b"x")
    with pytest.raises(ValueError):
        publisher.read("../secret")
    assert not (tmp_path / "escaped.html").exists()


def test_notices_preview_never_writes_outside_out_for_a_stored_path_like_person_id(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person id stored before ids were checked: the preview refuses to write, exit 2."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", sqlite_url)
    monkeypatch.chdir(work)
    spec = parse_incident_spec(load_document(config_dir() / "examples" / "incident.yaml"))
    hostile = "../../../escaped"
    engine = make_engine(sqlite_url)
    create_schema(engine)
    with Session(engine) as session:
        session.add(cli_preview.incident_row(spec, "INC-P1"))
        session.add(Person(id=hostile, name="Eve", locale="en", country="NL"))
        session.flush()
        session.add(AffectedPerson(incident_id="INC-P1", person_id=hostile, recipient_id=hostile,
                                   jurisdiction="NL", categories=["contact"]))  # fmt: skip
        session.add(ContactPoint(person_id=hostile, kind="email", value="eve@example.net"))
        session.commit()
    engine.dispose()
    result = CliRunner().invoke(app, ["notices", "preview", "INC-P1", "--person", hostile])
    assert result.exit_code == 2, result.stderr
    assert "would lead outside" in result.stderr
    written = [p for p in tmp_path.rglob("*.html")]
    assert written == []


def test_evidence_refuses_a_path_like_incident_id(tmp_path: Path, sqlite_url: str) -> None:
    done = breachnotice(
        "evidence", "../../x", env={"BREACHNOTICE_DATABASE_URL": sqlite_url}, cwd=tmp_path
    )
    assert done.returncode == 2 and "incident" in done.stderr and ID_RULE in done.stderr
    assert not (tmp_path.parent / "x").exists()
