"""`breachnotice notices preview`: a notice as one person receives it, checked, nothing sent."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from incident.adapters.documents import load_document
from incident.domain.incident_spec import parse_incident_spec
from incident.entrypoints import cli_preview
from incident.entrypoints.cli import app
from incident.settings import config_dir
from tests.e2e.headings import CA_HEADINGS, HEADINGS, LOCALES

EXAMPLE = config_dir() / "examples" / "incident.yaml"


def preview(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["notices", "preview", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("locale", LOCALES)
def test_a_californian_preview_carries_the_prescribed_headings_in_their_language(
    locale: str,
) -> None:
    code, out, err = preview(str(EXAMPLE), "--locale", locale, "--jurisdiction", "US-CA")
    assert code == 0, err
    for heading in CA_HEADINGS[locale]:
        assert heading in out
    assert "content check:" in err and "whether_delayed_by_law_enforcement" in err


def test_a_dutch_preview_is_the_dutch_notice_with_the_four_numbered_sections() -> None:
    code, out, _ = preview(str(EXAMPLE), "--locale", "nl", "--jurisdiction", "NL")
    assert code == 0
    assert out.startswith("Subject: Belangrijk: beveiligingsincident")
    for number, heading in enumerate(HEADINGS["nl"], start=1):
        assert f"{number}. {heading}" in out
    assert "Op 18 november heeft een aanvaller" in out
    assert "de Engelse versie bepalend" in out
    assert "20 november 2026, 09:30 uur (CET)" in out


def test_the_html_part_is_shown_on_request() -> None:
    code, out, _ = preview(str(EXAMPLE), "--locale", "zh", "--jurisdiction", "CN", "--format",
                           "html")  # fmt: skip
    assert code == 0 and out.startswith("<!DOCTYPE html>") and 'lang="zh"' in out
    assert "以英文版本为准" in html.unescape(out)


def test_a_section_missing_in_the_locale_is_shown_in_english_with_a_note(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    del data["remedies"]["nl"]
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, out, err = preview(str(path), "--locale", "nl", "--jurisdiction", "NL")
    assert code == 0
    assert "nog niet in het Nederlands beschikbaar" in out and "We offer 12 months" in out
    assert "NL/nl: fallback remedies" in err


def test_a_massachusetts_preview_leaves_out_what_massachusetts_forbids(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["categories"] = ["contact", "identity_document"]
    data["measures_taken"]["en"] = "We wrote to all 1,250 residents affected."
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, out, err = preview(str(path), "--jurisdiction", "US-MA")
    assert code == 1  # the check's verdict: this notice would be held, not sent
    assert "stolen administrator token" not in out and "right to obtain a police report" in out
    assert "forbidden number_of_residents_affected" in err


def test_an_empty_required_section_fails_naming_section_and_locale(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["remedies"] = {"en": " ", "ja": ""}
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, _, err = preview(str(path), "--locale", "ja", "--jurisdiction", "JP")
    assert code in (1, 2)  # intake refuses an empty English text before the notice is tried
    assert "remedies" in err


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--jurisdiction", "XX-YY"], "--jurisdiction"),
        (["--locale", "../en"], "--locale"),
        (["--channel", "pigeon"], "--channel"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], field: str) -> None:
    code, _, err = preview(str(EXAMPLE), *args)
    assert code == 2 and field in err


def test_preview_sends_nothing_and_writes_only_the_html_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No database, no mail folder: only the HTML part, under out/preview, its path printed."""
    monkeypatch.chdir(tmp_path)
    code, _, err = preview(str(EXAMPLE), "--locale", "fr", "--jurisdiction", "FR")
    assert code == 0
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path) for p in written] == [
        Path("out/preview/PREVIEW/preview-email-fr.html")
    ]
    assert f"wrote {Path('out/preview/PREVIEW/preview-email-fr.html')}" in err
    assert 'lang="fr"' in written[0].read_text(encoding="utf-8")


def test_incident_raise_warnings_cover_every_scoped_jurisdiction_and_locale() -> None:
    spec = parse_incident_spec(load_document(EXAMPLE))
    found = cli_preview.content_warnings(spec)
    places = {p.jurisdiction for p in found}
    assert {"CN", "US-CA"} <= places
    assert "US-NY" in cli_preview._jurisdictions(spec)  # US in scope: its states are checked too
    assert not [p for p in found if p.kind in ("empty", "forbidden", "unmapped")]


# ── stored incidents: --person and --sample ─────────────────────────────────────────────
PEOPLE = [  # id, locale, country, region, jurisdiction, contact kinds (in preference order)
    ("p-nl", "nl", "NL", None, "NL", ("email",)),
    ("p-de", "de", "DE", None, "DE", ("phone",)),
    ("p-ja", "ja", "JP", None, "JP", ("postal",)),
    ("p-ca", "en", "US", "US-CA", "US-CA", ("email",)),
    ("p-fr", "fr", "FR", None, "FR", ("email", "phone")),
    ("p-none", "es", "ES", None, "ES", ()),
]
POSTAL = {"street": "千代田区丸の内1-1", "postal_code": "100-0005", "region": "東京都",
          "country": "JP"}  # fmt: skip


@pytest.fixture()
def stored(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A stored incident with six affected people reachable in different ways."""
    from sqlmodel import Session

    from incident.adapters.db import create_schema, make_engine
    from incident.adapters.tables import AffectedPerson, ContactPoint, Person

    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BREACHNOTICE_DISPATCH__FALLBACK_CHAIN", '["email", "sms", "letter"]')
    monkeypatch.chdir(tmp_path)
    spec = parse_incident_spec(load_document(EXAMPLE))
    engine = make_engine(sqlite_url)
    create_schema(engine)
    with Session(engine) as session:
        session.add(cli_preview.incident_row(spec, "INC-P1"))
        for pid, locale, country, region, _, _ in PEOPLE:
            session.add(Person(id=pid, name=f"Name {pid}", locale=locale, country=country,
                               region=region))  # fmt: skip
        session.flush()
        for pid, _, _, _, jurisdiction, kinds in PEOPLE:
            affected = AffectedPerson(
                incident_id="INC-P1", person_id=pid, recipient_id=pid,
                jurisdiction=jurisdiction, categories=["contact"],
            )  # fmt: skip
            session.add(affected)
            for kind in kinds:
                value = {"email": f"{pid}@example.net", "phone": "+4930555010"}.get(kind, "addr")
                details = POSTAL if kind == "postal" else {}
                session.add(ContactPoint(person_id=pid, kind=kind, value=value, details=details))
        session.commit()
    engine.dispose()
    return "INC-P1"


@pytest.mark.parametrize(
    ("person", "channel", "expect"),
    [("p-nl", "email", "Subject: Belangrijk"), ("p-de", "sms", "Sicherheitshinweis"),
     ("p-ja", "letter", "2026")],
)  # fmt: skip
def test_a_person_s_notice_is_rendered_as_planning_routes_it(
    stored: str, tmp_path: Path, person: str, channel: str, expect: str
) -> None:
    """Their locale and jurisdiction, the first usable channel of the chain; letters as PDF."""
    code, out, err = preview(stored, "--person", person)
    assert code == 0, err
    assert expect in out
    if channel == "letter":
        pdf = tmp_path / "out" / "preview" / stored / f"{person}-letter-ja.pdf"
        assert pdf.read_bytes().startswith(b"%PDF") and f"wrote {pdf.relative_to(tmp_path)}" in err
    assert "content check:" in err


def test_a_person_without_a_usable_channel_is_named_unreachable(stored: str) -> None:
    code, _, err = preview(stored, "--person", "p-none")
    assert code == 1 and "unreachable" in err


def test_a_locale_given_with_a_person_shows_their_notice_in_that_locale(stored: str) -> None:
    """p-nl reads Dutch; --locale de shows the same routed email in German, and says so."""
    code, out, err = preview(stored, "--person", "p-nl", "--locale", "de")
    assert code == 0, err
    assert "Subject: Belangrijk" not in out and "Subject: Wichtig: Sicherheitsvorfall" in out
    assert "p-nl: shown in de (--locale), their own is nl" in err


def test_a_person_who_is_not_affected_is_not_found_with_exit_code_2(stored: str) -> None:
    code, _, err = preview(stored, "--person", "p-nobody")
    assert code == 2 and "'p-nobody' is not affected by INC-P1" in err


def test_a_sample_spreads_across_locales_jurisdictions_and_channels(stored: str) -> None:
    code, out, err = preview(stored, "--sample", "3")
    assert code == 0, err
    picked = [line.split()[1].rstrip(":") for line in err.splitlines() if line.startswith("== ")]
    assert len(picked) == 3
    channels = {dict((p[0], p[5]) for p in PEOPLE)[pid][0] for pid in picked}
    assert channels == {"email", "phone", "postal"}  # one of each channel
    assert "Sicherheitshinweis" in out and "Subject:" in out  # the SMS and the email, in full
    assert err.count("content check:") == 3


def test_an_unknown_incident_id_is_a_clear_error(stored: str) -> None:
    code, _, err = preview("INC-NOPE", "--person", "p-nl")
    assert code == 2 and "neither a file nor a stored incident" in err


def test_person_and_sample_need_a_stored_incident() -> None:
    code, _, err = preview(str(EXAMPLE), "--sample", "2")
    assert code == 2 and "stored incident" in err
