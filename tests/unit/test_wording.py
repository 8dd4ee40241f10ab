"""Wording lives once per locale in templates/strings/<locale>/*.toml and every channel uses it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest

from incident.errors import ConfigError, TemplateNotFound
from incident.rendering import NoticeContext, Renderer

CTX = NoticeContext(
    recipient_name="Anna", subject_name=None, locale="nl", incident_ref="INC-7", title="Lek",
    description="d", impact="i", measures_taken="m", measures_planned="", advice="", remedies="",
    categories=("contact",), aware_at=datetime(2026, 3, 6, 15, tzinfo=UTC), occurred_at=None,
    contact_email=None, contact_phone=None, contact_url=None,
)  # fmt: skip


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small sms channel with one shared layout, English and Dutch wording."""
    return _write(
        tmp_path / "templates",
        {
            "strings/en/core.toml": 'lang = "en"\nmonths = ["Jan", "Feb", "Mar", "Apr", "May", '
            '"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]\ndate_pattern = "{day} {month}"\n'
            'datetime_pattern = "{day} {month} {time} {zone}"\n',
            "strings/en/notice.toml": 'greeting = "Dear {name},"\nclosing = "Sorry."\n'
            '[category_names]\ncontact = "contact details"\n',
            "strings/nl/notice.toml": 'greeting = "Beste {name},"\n'
            '[category_names]\ncontact = "contactgegevens"\n',
            "sms/_base/notice.txt": "{{ s.greeting|fill(name=recipient_name) }} "
            "{{ s.category_names[categories[0]] }} {{ aware_at|local_datetime }} {{ s.closing }}",
        },
    )


def test_a_channel_without_its_own_locale_folder_uses_its_base_layout_with_the_locales_wording(
    root: Path,
) -> None:
    renderer = Renderer(root)
    renderer.check(["sms"])
    parts = renderer.render("sms", "notice", "nl", CTX)
    assert parts.locale == "nl"
    assert parts.text.startswith("Beste Anna, contactgegevens 6 Mar 15:00 UTC")


def test_a_key_missing_in_dutch_falls_back_to_the_english_wording(root: Path) -> None:
    parts = Renderer(root).render("sms", "notice", "nl_BE", CTX)
    assert parts.locale == "nl" and parts.text.endswith("Sorry.")


def test_a_locale_without_a_strings_folder_falls_back_to_the_default_locale(root: Path) -> None:
    assert Renderer(root).render("sms", "notice", "de", CTX).text.startswith("Dear Anna,")


def test_a_regional_strings_folder_overrides_only_its_own_keys(root: Path) -> None:
    _write(root, {"strings/nl_BE/notice.toml": 'greeting = "Dag {name},"\n'})
    parts = Renderer(root).render("sms", "notice", "nl-be", CTX)
    assert parts.locale == "nl_BE"
    assert parts.text.startswith("Dag Anna, contactgegevens") and parts.text.endswith("Sorry.")


def test_a_channel_adds_its_own_strings_file_without_editing_a_shared_one(root: Path) -> None:
    _write(
        root,
        {"strings/en/sms.toml": 'short = "See {url}"\n', "sms/_base/notice.txt": "{{ s.short }}"},
    )
    assert Renderer(root).render("sms", "notice", "nl", CTX).text == "See {url}"


def test_a_locales_own_layout_file_wins_over_the_base_layout(root: Path) -> None:
    _write(root, {"sms/nl/notice.txt": "NL: {{ s.greeting|fill(name=recipient_name) }}"})
    renderer = Renderer(root)
    renderer.check(["sms"])
    assert renderer.render("sms", "notice", "nl", CTX).text == "NL: Beste Anna,"
    assert renderer.render("sms", "notice", "en", CTX).text.startswith("Dear Anna,")


def test_a_duplicate_key_across_two_strings_files_of_one_locale_is_refused_naming_both_files(
    root: Path,
) -> None:
    _write(root, {"strings/nl/sms.toml": 'greeting = "Hoi {name},"\n'})
    with pytest.raises(ConfigError) as caught:
        Renderer(root)
    message = str(caught.value)
    assert "notice.toml" in message and "sms.toml" in message and "'greeting'" in message


def test_a_key_english_lacks_is_refused(root: Path) -> None:
    _write(root, {"strings/nl/sms.toml": 'groet = "Hoi"\n'})
    with pytest.raises(ConfigError, match=r"sms\.toml.*'groet'.*default locale"):
        Renderer(root)


def test_a_malformed_strings_file_is_refused_naming_the_file(root: Path) -> None:
    _write(root, {"strings/nl/broken.toml": 'greeting = "unterminated\n'})
    with pytest.raises(ConfigError, match=r"broken\.toml.*malformed TOML"):
        Renderer(root)


@pytest.mark.parametrize(
    ("toml", "reason"),
    [
        ('greeting = "Beste {naam},"\n', "placeholder {naam}"),
        ('greeting = ["Beste"]\n', "is list"),
        ('[category_names]\nfoo = "bar"\n', "'foo' is not in the default locale's table"),
        ('months = ["jan"]\n', "has 1 items"),
    ],
)
def test_a_translation_of_another_shape_than_english_is_refused(
    root: Path, toml: str, reason: str
) -> None:
    (root / "strings/nl/notice.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=reason.replace("{", r"\{").replace("}", r"\}")):
        Renderer(root)


def test_no_strings_for_the_default_locale_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(TemplateNotFound, match="strings"):
        Renderer(tmp_path)


def test_a_layout_reading_a_string_that_does_not_exist_fails_the_startup_check(
    root: Path,
) -> None:
    _write(root, {"sms/_base/notice.txt": "{{ s.greting }}"})
    with pytest.raises(ConfigError, match="greting"):
        Renderer(root).check(["sms"])


def test_a_locale_layout_folder_without_wording_fails_the_startup_check(root: Path) -> None:
    _write(root, {"sms/fr/notice.txt": "Bonjour"})
    with pytest.raises(ConfigError, match="fr"):
        Renderer(root).check(["sms"])


def test_required_parts_come_from_the_channel_registry(root: Path) -> None:
    Renderer(root).check(["sms"])  # default: only "text" for a channel not in REQUIRED_PARTS
    with pytest.raises(TemplateNotFound, match=r"notice\.subject\.txt"):
        Renderer(root, required_parts={"sms": ("subject", "text")}).check(["sms"])
    with pytest.raises(ConfigError, match="title"):
        Renderer(root, required_parts={"push": ("title", "text")})


def test_templates_cannot_change_the_shared_wording(root: Path) -> None:
    _write(root, {"sms/_base/notice.txt": "{{ s.category_names.clear() }}"})
    renderer = Renderer(root)
    with pytest.raises(jinja2.UndefinedError, match="clear"):  # a read-only mapping
        renderer.render("sms", "notice", "en", dataclasses.replace(CTX, locale="en"))
    assert renderer.wording("en").category_names["contact"] == "contact details"
