"""`breachnotice notices preview`: a notice as one person receives it, checked, nothing sent."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

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
    assert code == 0
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


def test_preview_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = preview(str(EXAMPLE), "--locale", "fr", "--jurisdiction", "FR")
    assert code == 0 and list(tmp_path.iterdir()) == []


def test_incident_raise_warnings_cover_every_scoped_jurisdiction_and_locale() -> None:
    spec = cli_preview.parse_incident_spec(cli_preview.load_document(EXAMPLE))
    found = cli_preview.content_warnings(spec)
    places = {p.jurisdiction for p in found}
    assert {"CN", "US-CA", "US-NY"} <= places  # US in scope: its states with rules are checked
    assert not [p for p in found if p.kind in ("empty", "forbidden", "unmapped")]
