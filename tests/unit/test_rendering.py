"""Notice rendering: every locale, fallback, guardian wording, escaping, startup check, speed."""

from __future__ import annotations

import dataclasses
import html
import time
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from incident.errors import TemplateNotFound
from incident.rendering import NoticeContext, Renderer, normalize_locale
from incident.settings import templates_dir

LOCALES = ["de", "en", "es", "fr", "ja", "nl", "pt", "zh"]
CATEGORIES = (
    "contact", "identity_document", "business_registration", "transactions",
    "device", "credentials", "payment", "health",
)  # fmt: skip
HEADINGS = ("h_happened", "h_done", "h_you", "h_offer")


def _context(**changes: Any) -> NoticeContext:
    base = NoticeContext(
        recipient_name="Ada Lovelace",
        subject_name=None,
        locale="en",
        incident_ref="INC-2024-0042",
        title="Unauthorised access to the customer database",
        description="An attacker used a stolen staff password.\n\nThey copied customer records.",
        impact="You may receive convincing phishing messages.",
        measures_taken="We locked the account and reset every staff password.",
        measures_planned="We will require hardware security keys for staff.",
        advice="Ignore messages asking you to confirm your account.",
        remedies="We offer twelve months of free identity monitoring.",
        categories=("contact", "credentials", "payment"),
        aware_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        occurred_at=datetime(2024, 4, 28, tzinfo=UTC),
        contact_email="privacy@example.org",
        contact_phone="+31 20 123 4567",
        contact_url="https://example.org/incident",
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    r = Renderer(templates_dir())
    r.check(["email"])
    return r


def _read_strings(locale: str) -> SimpleNamespace:
    merged: dict[str, Any] = {}
    for path in sorted((templates_dir() / "strings" / locale).glob("*.toml")):
        merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
    return SimpleNamespace(**merged)


@pytest.fixture(scope="module")
def strings() -> dict[str, Any]:
    """Each locale's strings files, read independently of the Renderer."""
    return {loc: _read_strings(loc) for loc in LOCALES}


def test_every_shipped_locale_translates_every_string_and_data_category(
    strings: dict[str, Any],
) -> None:
    """English fallback is a safety net: the shipped translations are complete."""
    for locale, module in strings.items():
        assert vars(module).keys() == vars(strings["en"]).keys(), locale
        assert set(module.category_names) == set(CATEGORIES), locale
        assert set(module.category_advice) == set(CATEGORIES), locale
        assert module.lang == locale


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_renders_the_four_sections_contact_and_reference(
    renderer: Renderer, strings: dict[str, Any], locale: str
) -> None:
    ctx = _context(locale=locale, categories=CATEGORIES)
    parts = renderer.render("email", "notice", locale, ctx)
    s = strings[locale]

    assert parts.locale == locale
    assert parts.subject and "INC-2024-0042" in parts.subject and "\n" not in parts.subject
    assert parts.html is not None and f'<html lang="{locale}"' in parts.html
    for body in (parts.text, html.unescape(parts.html)):
        for number, key in enumerate(HEADINGS, start=1):
            assert f"{number}. {getattr(s, key)}" in body
        assert s.h_contact in body
        for value in (ctx.impact, ctx.measures_taken, ctx.measures_planned, ctx.advice):
            assert value in body
        assert ctx.remedies in body
        assert "privacy@example.org" in body and "+31 20 123 4567" in body
        assert "INC-2024-0042" in body
        for category in CATEGORIES:
            assert s.category_names[category] in body
            assert s.category_advice[category] in body
    # Sections come in order in both parts.
    positions = [parts.text.index(f"{n}. ") for n in range(1, 5)]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("asked", "used"),
    [("pt_BR", "pt"), ("pt-br", "pt"), ("de_AT", "de"), ("xx", "en"), ("", "en"), ("../en", "en")],
)
def test_locales_fall_back_to_their_language_then_to_english(
    renderer: Renderer, asked: str, used: str
) -> None:
    assert renderer.render("email", "notice", asked, _context(locale=asked)).locale == used


def test_locale_names_are_normalised() -> None:
    assert normalize_locale("PT-br") == "pt_BR"
    assert normalize_locale(" de ") == "de"


def test_a_guardian_is_told_the_notice_concerns_the_childs_data(renderer: Renderer) -> None:
    parts = renderer.render("email", "notice", "en", _context(subject_name="Tom Lovelace"))

    assert parts.subject is not None and "Tom Lovelace" in parts.subject
    guardian = "parent or guardian of Tom Lovelace. It concerns the personal data of Tom Lovelace."
    assert guardian in parts.text
    assert parts.html is not None and guardian in parts.html
    assert "personal data of Tom Lovelace were involved" in parts.text


@pytest.mark.parametrize("locale", LOCALES)
def test_guardian_wording_names_the_child_in_every_locale(
    renderer: Renderer, strings: dict[str, Any], locale: str
) -> None:
    own = renderer.render("email", "notice", locale, _context(locale=locale))
    child = renderer.render("email", "notice", locale, _context(subject_name="Mia", locale=locale))

    guardian = strings[locale].guardian.replace("{child}", "Mia")
    assert guardian in child.text and guardian not in own.text
    assert child.subject is not None and "Mia" in child.subject


def test_an_adult_notice_has_no_guardian_wording(renderer: Renderer) -> None:
    parts = renderer.render("email", "notice", "en", _context())
    assert "guardian" not in parts.text
    assert "The following kinds of your personal data were involved:" in parts.text


def test_incident_text_and_names_are_escaped_in_html_but_not_in_text(renderer: Renderer) -> None:
    ctx = _context(
        recipient_name='Bobby "<b>" Tables',
        subject_name="<img src=x onerror=alert(1)>",
        description="Payload: <script>alert('x')</script> & more",
        contact_url="javascript:alert(1)",
    )
    parts = renderer.render("email", "notice", "en", ctx)

    assert parts.html is not None
    assert "<script>" not in parts.html and "<img" not in parts.html and "<b>" not in parts.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in parts.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in parts.html
    assert 'href="javascript:' not in parts.html  # only http(s) URLs become links
    assert "Payload: <script>alert('x')</script> & more" in parts.text
    assert 'Dear Bobby "<b>" Tables,' in parts.text


def test_dates_are_written_the_locales_way(renderer: Renderer) -> None:
    rendered = {
        loc: renderer.render("email", "notice", loc, _context(locale=loc)).text
        for loc in ("en", "de", "es", "ja")
    }
    assert "1 May 2024, 09:30 UTC" in rendered["en"]
    assert "1. Mai 2024, 09:30 Uhr (UTC)" in rendered["de"]
    assert "1 de mayo de 2024, a las 09:30 (UTC)" in rendered["es"]
    assert "2024年5月1日 09:30（UTC）" in rendered["ja"]
    assert "It happened on or around 28 April 2024." in rendered["en"]


def test_an_incident_is_dated_in_the_readers_time_zone_with_the_zone_named(
    renderer: Renderer,
) -> None:
    aware = datetime(2026, 11, 20, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    occurred = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)

    def text(zone: str | None, locale: str = "en") -> str:
        ctx = _context(locale=locale, aware_at=aware, occurred_at=occurred, time_zone=zone)
        return renderer.render("email", "notice", locale, ctx).text

    assert "aware of the incident on 20 November 2026, 00:30 CET." in text("Europe/Amsterdam")
    assert "on 19 November 2026, 15:30 PST." in text("America/Los_Angeles")
    assert "on or around 17 November 2026." in text("America/Los_Angeles")
    assert "19 de novembro de 2026, às 20:30 (UTC-03:00)" in text("America/Sao_Paulo", "pt")
    assert "2026年11月20日 08:30（JST）" in text("Asia/Tokyo", "ja")


def test_without_a_known_zone_the_incidents_own_offset_is_shown(renderer: Renderer) -> None:
    aware = datetime(2026, 11, 20, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    for zone in (None, "Not/AZone"):
        ctx = _context(aware_at=aware, time_zone=zone)
        text = renderer.render("email", "notice", "en", ctx).text
        assert "on 20 November 2026, 00:30 UTC+01:00." in text


def test_optional_parts_are_left_out_or_replaced_by_a_sensible_default(
    renderer: Renderer,
) -> None:
    ctx = _context(
        measures_planned="", advice="", remedies="", categories=("health",),
        occurred_at=None, contact_phone=None, contact_url=None,
    )  # fmt: skip
    text = renderer.render("email", "notice", "en", ctx).text

    assert "What we will do next:" not in text
    assert "It happened on or around" not in text
    assert "We are not offering a specific service" in text
    assert "Be alert to misuse of your health information" in text
    assert "Phone:" not in text and "Website:" not in text


def test_nothing_to_advise_still_fills_the_what_you_can_do_section(renderer: Renderer) -> None:
    text = renderer.render("email", "notice", "en", _context(advice="", categories=())).text
    section = text.split("3. What you can do")[1].split("4. What we offer you")[0]
    assert "There is nothing specific you need to do now." in section


def test_an_unknown_category_is_listed_by_its_id_rather_than_dropped(renderer: Renderer) -> None:
    text = renderer.render("email", "notice", "en", _context(categories=("biometrics",))).text
    assert "  - biometrics" in text


def test_a_plain_mapping_works_as_context_too(renderer: Renderer) -> None:
    ctx = _context()
    as_mapping = renderer.render("email", "notice", "en", ctx.as_dict())
    assert as_mapping == renderer.render("email", "notice", "en", ctx)


def test_templates_are_loaded_once_and_then_served_from_cache(
    renderer: Renderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    renderer.render("email", "notice", "fr", _context(locale="fr"))
    loader = renderer._env.loader
    assert loader is not None
    loads: list[str] = []
    original = loader.get_source

    def counting(env: jinja2.Environment, name: str) -> tuple[str, str | None, Any]:
        loads.append(name)
        return original(env, name)

    monkeypatch.setattr(loader, "get_source", counting)
    for _ in range(20):
        renderer.render("email", "notice", "fr", _context(locale="fr"))
    assert loads == []


def test_rendering_an_email_notice_takes_well_under_a_millisecond(renderer: Renderer) -> None:
    ctx = _context()
    renderer.render("email", "notice", "en", ctx)
    n = 300
    start = time.perf_counter()
    for _ in range(n):
        renderer.render("email", "notice", "en", ctx)
    per_render_us = (time.perf_counter() - start) / n * 1e6
    print(f"\nrender email notice (subject + text + html): {per_render_us:.0f} µs")
    assert per_render_us < 1000


def _copy_templates(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    for src in templates_dir().rglob("*"):
        rel = src.relative_to(templates_dir())
        if (
            src.is_file()
            and rel.parts[0] in {"email", "strings"}
            and rel.parts[1] in {"_base", "en", "de"}
        ):
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())
    return root


def test_startup_check_fails_when_the_default_locale_misses_a_part(tmp_path: Path) -> None:
    root = _copy_templates(tmp_path)
    (root / "email" / "_base" / "notice.html").unlink()

    with pytest.raises(TemplateNotFound) as caught:
        Renderer(root).check(["email"])
    assert (caught.value.channel, caught.value.template, caught.value.locale) == (
        "email", "notice.html", "en",
    )  # fmt: skip


def test_startup_check_fails_on_a_partial_translation_of_a_layout_without_base(
    tmp_path: Path,
) -> None:
    root = _copy_templates(tmp_path)
    (root / "email" / "_base").rename(root / "email" / "en")
    (root / "email" / "de").mkdir()
    for name in ("notice.txt", "notice.html"):  # no German subject and no shared one
        (root / "email" / "de" / name).write_bytes((root / "email" / "en" / name).read_bytes())

    with pytest.raises(TemplateNotFound, match="'de'"):
        Renderer(root).check(["email"])


def test_startup_check_fails_for_a_channel_without_templates(tmp_path: Path) -> None:
    root = _copy_templates(tmp_path)
    with pytest.raises(TemplateNotFound, match="sms"):
        Renderer(root).check(["sms"])


def test_startup_check_surfaces_template_syntax_errors(tmp_path: Path) -> None:
    root = _copy_templates(tmp_path)
    (root / "email" / "de").mkdir()
    (root / "email" / "de" / "notice.subject.txt").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(jinja2.TemplateSyntaxError):
        Renderer(root).check(["email"])


def test_notice_context_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _context().title = "changed"  # type: ignore[misc]
