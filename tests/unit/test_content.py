"""Notice content: formats by jurisdiction, English fallback per section, 'English prevails',
required sections, and the content checks against the rules file."""

from __future__ import annotations

import html
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from incident.adapters.tables import Incident, Person
from incident.domain.content import (
    STANDARD_FORMAT,
    MissingSection,
    check_notice_content,
    load_formats,
    notice_rules,
)
from incident.errors import ConfigError
from incident.obligations import load_rules
from incident.rendering import Renderer
from incident.service.compose import Composer, Delivery
from incident.settings import config_dir, templates_dir

LOCALES = ["de", "en", "es", "fr", "ja", "nl", "pt", "zh"]
CA_HEADINGS = ("What Happened", "What Information Was Involved", "What We Are Doing",
               "What You Can Do", "For More Information")  # fmt: skip


def incident(**changes: Any) -> Incident:
    base: dict[str, Any] = dict(
        id="INC-9", title="Attacker read the accounts table", severity="high", status="raised",
        description={"en": "An attacker read the accounts table.",
                     "nl": "Een aanvaller las de tabel."},
        impact={"en": "Phishing is possible."}, measures_taken={"en": "We revoked the key."},
        measures_planned={"en": "Hardware keys."}, advice={"en": ""},
        remedies={"en": "Twelve months of free monitoring."},
        categories=["contact", "identity_document"],
        contact={"email": "privacy@example.org", "dpo": "Jo Dee, dpo@example.org"},
        aware_at=datetime(2026, 3, 6, 15, tzinfo=UTC),
        occurred_at=datetime(2026, 3, 5, 15, tzinfo=UTC),
    )  # fmt: skip
    return Incident(**{**base, **changes})


def delivery(
    inc: Incident, locale: str, jurisdiction: str | None, pid: str = "p", **kw: Any
) -> Delivery:
    country = jurisdiction.split("-")[0] if jurisdiction else "NL"
    region = jurisdiction if jurisdiction and "-" in jurisdiction else None
    person = Person(id=pid, name=f"Reader {pid}", country=country, region=region, locale=locale)
    return Delivery(f"{inc.id}:{pid}:email:1", 1, "email", inc, person, person,
                    tuple(inc.categories), jurisdiction=jurisdiction, **kw)  # fmt: skip


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer(
        Renderer(templates_dir()), message_domain="example.org", message_key=b"test-message-key"
    )


def _strings(locale: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted((templates_dir() / "strings" / locale).glob("*.toml")):
        merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
    return merged


def test_the_format_is_chosen_by_subdivision_then_country_then_standard() -> None:
    formats = load_formats()
    assert formats.for_jurisdiction("US-CA").id == "US-CA"
    assert formats.for_jurisdiction("US-NY").id == "US-NY"
    assert formats.for_jurisdiction("US-TX").id == "US"
    assert formats.for_jurisdiction("NL") is STANDARD_FORMAT
    assert formats.for_jurisdiction(None) is STANDARD_FORMAT


def test_a_californian_gets_the_prescribed_title_and_headings_in_order(composer: Composer) -> None:
    parts = composer.render(delivery(incident(), "en", "US-CA"))
    for body in (parts.text, html.unescape(parts.html or "")):
        assert body.count("Notice of Data Breach") >= 1
        positions = [body.index(h) for h in CA_HEADINGS]
        assert positions == sorted(positions)
        assert "1. What" not in body  # the statute's headings, not numbered ones
        assert "www.annualcreditreport.com" in body


def test_a_spanish_reading_californian_sees_the_prescribed_english_headings_too(
    composer: Composer,
) -> None:
    text = composer.render(delivery(incident(), "es", "US-CA")).text
    assert "Aviso de violación de datos (Notice of Data Breach)" in text
    assert all(f"({h})" in text for h in CA_HEADINGS)


def test_a_massachusetts_notice_leaves_out_the_nature_and_states_the_residents_rights(
    composer: Composer,
) -> None:
    inc = incident()
    parts = composer.render(delivery(inc, "en", "US-MA"))
    for body in (parts.text, html.unescape(parts.html or "")):
        assert inc.description["en"] not in body and inc.title not in body
        assert inc.impact["en"] not in body and "what happened" not in body.lower()
        assert "right to obtain a police report" in body
        assert "security freeze on your credit report free of charge" in body
        assert inc.measures_taken["en"] in body and inc.remedies["en"] in body
    assert check_notice_content(inc, "US-MA", "en") == [
        p for p in check_notice_content(inc, "US-MA", "en") if p.kind == "manual"
    ]


def test_a_number_of_residents_in_a_shown_section_is_flagged_for_massachusetts() -> None:
    inc = incident(measures_taken={"en": "We wrote to all 1,200 residents affected."})
    found = [p for p in check_notice_content(inc, "US-MA", "en") if p.kind == "forbidden"]
    assert [(p.item, p.rules) for p in found] == [
        ("number_of_residents_affected", ("us-ma-individuals",))
    ]
    assert "1,200 residents" in found[0].detail


def test_a_format_that_would_state_the_nature_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "formats.toml"
    shipped = (config_dir() / "notice_formats.toml").read_text(encoding="utf-8")
    shipped = shipped.replace('["dates", "categories", "accounts"]', '["description", "dates"]')
    path.write_text(shipped, encoding="utf-8")
    found = check_notice_content(incident(), "US-MA", "en", formats=load_formats(path))
    assert any(p.kind == "forbidden" and p.item == "nature_of_breach" for p in found)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_non_english_notice_says_in_its_language_that_english_prevails(
    composer: Composer, locale: str
) -> None:
    parts = composer.render(delivery(incident(), locale, "NL"))
    prevails = _strings(locale)["prevails"]
    assert (prevails in parts.text) is (locale != "en")
    assert (prevails in html.unescape(parts.html or "")) is (locale != "en")


def test_a_section_missing_in_the_readers_locale_falls_back_to_english_with_one_note(
    composer: Composer,
) -> None:
    inc = incident()
    text = composer.render(delivery(inc, "nl", "NL")).text
    note = _strings("nl")["fallback_note"]
    assert "Een aanvaller las de tabel." in text and inc.description["en"] not in text
    assert inc.impact["en"] in text and inc.remedies["en"] in text
    # impact, measures_taken, measures_planned and remedies fell back; advice is empty
    assert text.count(note) == 4
    assert text.index(note) < text.index(inc.impact["en"])
    assert _strings("en")["fallback_note"] not in composer.render(delivery(inc, "en", "NL")).text


def test_a_required_section_empty_stops_the_notice_naming_section_and_locale(
    composer: Composer,
) -> None:
    inc = incident(id="INC-E", remedies={"en": " ", "nl": ""})
    with pytest.raises(MissingSection) as caught:
        composer.render(delivery(inc, "nl", "NL"))
    assert (caught.value.section, caught.value.locale) == ("remedies", "nl")
    assert "'remedies'" in str(caught.value) and "'nl'" in str(caught.value)
    empty = [p for p in check_notice_content(inc, "NL", "nl") if p.kind == "empty"]
    assert [p.item for p in empty] == ["remedies"]


def test_massachusetts_does_not_require_the_sections_it_forbids(composer: Composer) -> None:
    inc = incident(id="INC-M", description={"en": ""}, impact={"en": ""})
    assert composer.render(delivery(inc, "en", "US-MA")).text
    with pytest.raises(MissingSection):
        composer.render(delivery(inc, "en", "US-CA"))


def test_the_render_cache_keeps_formats_apart(composer: Composer) -> None:
    inc = incident(id="INC-C")
    nl = composer.render(delivery(inc, "en", "NL", "a"))
    ca = composer.render(delivery(inc, "en", "US-CA", "b"))
    assert "What Information Was Involved" in ca.text
    assert "What Information Was Involved" not in nl.text


def test_contact_names_the_dpo_and_the_response_commitment(composer: Composer) -> None:
    text = composer.render(delivery(incident(), "en", "NL")).text
    assert "Data protection officer: Jo Dee, dpo@example.org" in text
    assert "We answer every question within 7 working days." in text
    ja = composer.render(delivery(incident(), "ja", "JP")).text
    assert "7営業日以内" in ja


def test_affected_accounts_are_filled_per_person_and_escaped(composer: Composer) -> None:
    inc = incident(id="INC-A")
    one = composer.render(delivery(inc, "en", "NL", "a", accounts=("a@example.org",)))
    two = composer.render(delivery(inc, "en", "NL", "b", accounts=("<b>@example.org",)))
    none = composer.render(delivery(inc, "en", "NL", "c"))
    assert "Affected accounts: a@example.org" in one.text
    assert "&lt;b&gt;@example.org" in (two.html or "") and "<b>@" not in (two.html or "")
    assert "Affected accounts" not in none.text


def test_a_chinese_reader_in_china_gets_chinese_dates_in_their_own_time_zone(
    composer: Composer,
) -> None:
    text = composer.render(delivery(incident(), "zh", "CN")).text
    assert "我们于2026年3月6日 23:00（CST）获悉此事件。" in text


def test_california_items_are_checked_against_the_incident() -> None:
    without_date = check_notice_content(incident(occurred_at=None), "US-CA", "en")
    assert any(p.kind == "missing" and p.item == "breach_date_or_range" for p in without_date)
    found = {(p.kind, p.item) for p in check_notice_content(incident(), "US-CA", "en")}
    assert not {k for k in found if k[0] in ("missing", "forbidden", "empty", "unmapped")}
    assert ("manual", "identity_theft_service_12_months") in found  # identity documents


def test_rules_that_cannot_apply_are_not_checked() -> None:
    rules = load_rules()
    contact_only = {r.id for r in notice_rules(rules, "US-CA", {"contact"}, {})}
    assert "us-ca-individuals" not in contact_only and "policy-individuals" in contact_only
    hipaa = {r.id for r in notice_rules(rules, "US-CA", {"health"}, {"hipaa_covered": True})}
    assert "hipaa-individuals" in hipaa
    assert "hipaa-individuals" not in {r.id for r in notice_rules(rules, "US", {"health"}, {})}


def test_every_individual_content_and_forbidden_item_of_the_rules_file_is_mapped() -> None:
    rules, formats = load_rules(), load_formats()
    for rule in rules.rules:
        if rule.recipient != "individuals" or rule.id == "policy-questions":
            continue
        extra = [i for x in rule.extra_content for i in x.items]
        for item in (*rule.content_items, *extra):
            assert item in formats.items, (rule.id, item)
        for item in rule.forbidden_items:
            assert item in formats.forbidden, (rule.id, item)


def test_a_format_naming_a_string_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "formats.toml"
    path.write_text('[format."NL"]\nsections = [{ heading = "h_nope", blocks = ["contact"] }]\n')
    with pytest.raises(ConfigError, match="h_nope"):
        Composer(
            Renderer(templates_dir()),
            message_domain="x",
            message_key=b"test-message-key",
            formats=load_formats(path),
        )
    path.write_text('[format."NL"]\nsections = [{ heading = "h_you", blocks = ["gossip"] }]\n')
    load_formats.cache_clear()
    with pytest.raises(ConfigError, match="gossip"):
        load_formats(path)
