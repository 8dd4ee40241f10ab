"""The content check does not pass placeholder text: a section too short to inform (a minimum
per section, in `[quality]` of config/notice_formats.toml) or still the sample incident's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from incident.adapters.tables import Incident
from incident.domain.content import BLOCKING, SECTIONS, check_notice_content
from incident.domain.content_quality import informative_length, load_quality
from incident.service.intake import load_incident_file
from incident.settings import config_dir

SAMPLE = load_incident_file(config_dir() / "examples" / "incident.yaml")
REAL = {
    "description": "An attacker read the accounts table through a leaked key.",
    "impact": "Phishing in your name is possible.",
    "measures_taken": "We revoked the key the same day.",
    "measures_planned": "Hardware keys for all staff.",
    "advice": "Change your password.",
    "remedies": "Twelve months of free monitoring.",
}


def incident(**sections: str) -> Incident:
    texts = {name: {"en": sections.get(name, text)} for name, text in REAL.items()}
    return Incident(
        id="INC-Q", title="Accounts read", severity="high", status="raised",
        categories=["contact"], contact={"email": "privacy@example.org"},
        aware_at=datetime(2026, 3, 6, 15, tzinfo=UTC), **texts,
    )  # fmt: skip


def placeholders(inc: Any, locale: str = "en", **kw: Any) -> dict[str, str]:
    found = check_notice_content(inc, "NL", locale, **kw)
    return {p.item: p.detail for p in found if p.kind == "placeholder"}


def test_a_notice_whose_every_section_is_x_is_flagged_section_by_section() -> None:
    found = placeholders(incident(**dict.fromkeys(SECTIONS, "x")))
    assert set(found) == set(SECTIONS)
    assert found["description"] == "'x' is too short to inform (at least 20 characters)"


def test_real_sections_raise_no_placeholder() -> None:
    assert placeholders(incident()) == {}


def test_a_section_left_at_the_sample_s_text_is_flagged_in_any_locale() -> None:
    inc = incident(remedies=SAMPLE.remedies["nl"])
    assert placeholders(inc) == {
        "remedies": "still the sample incident's text (config/examples/incident.yaml)"
    }


def test_the_minimum_per_section_is_read_from_the_config(tmp_path: Path) -> None:
    shipped = (config_dir() / "notice_formats.toml").read_text(encoding="utf-8")
    path = tmp_path / "formats.toml"
    path.write_text(shipped.replace("advice = 10", "advice = 40"), encoding="utf-8")
    quality = load_quality(path)
    assert quality.min_chars["advice"] == 40
    assert set(placeholders(incident(), quality=quality)) == {"advice"}


def test_a_short_chinese_sentence_informs_as_a_longer_english_one_does() -> None:
    assert informative_length("我们已吊销密钥。") >= 20 > informative_length("We revoked.")


def test_placeholders_are_warnings_the_notice_is_not_held_for() -> None:
    assert "placeholder" not in BLOCKING
