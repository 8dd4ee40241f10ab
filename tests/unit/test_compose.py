"""Composing a notice: the per-person copy of a cached render equals a full render."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incident.adapters.tables import Incident, Person
from incident.rendering import Renderer
from incident.service.compose import TEMPLATE, Composer, Delivery, message_id_for, pick_text
from incident.settings import templates_dir

INCIDENT = Incident(
    id="INC-1",
    title="Leak",
    severity="high",
    status="raised",
    description={"en": "An attacker read a table.", "nl": "Een aanvaller las een tabel."},
    impact={"en": "Phishing."},
    measures_taken={"en": "Key revoked."},
    measures_planned={"en": "Hardware keys."},
    advice={"en": ""},
    remedies={"en": "Monitoring."},
    categories=["contact", "credentials"],
    contact={"email": "privacy@example.org"},
    aware_at=datetime(2026, 3, 6, 15, tzinfo=UTC),
)


def delivery(recipient: Person, subject: Person | None = None) -> Delivery:
    return Delivery(
        "INC-1:p:email:1",
        1,
        "email",
        INCIDENT,
        recipient,
        subject or recipient,
        ("contact", "credentials"),
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(templates_dir())


@pytest.mark.parametrize("locale", ["en", "nl", "ja", "pt_BR"])
@pytest.mark.parametrize("name", ["Anna de Vries", '<Zoë & "Co">', "佐藤 花子"])
def test_a_cached_render_personalised_equals_a_full_render(
    renderer: Renderer,
    locale: str,
    name: str,
) -> None:
    composer = Composer(renderer, message_domain="example.org", message_key=b"test-message-key")
    person = Person(id="p", name=name, country="NL", locale=locale)
    d = delivery(person)
    composer.render(delivery(Person(id="q", name="Someone Else", country="NL", locale=locale)))
    full = renderer.render("email", TEMPLATE, locale, composer.context(d))
    assert composer.render(d) == full


def test_a_guardian_notice_names_the_child_exactly_as_a_full_render_does(
    renderer: Renderer,
) -> None:
    composer = Composer(renderer, message_domain="example.org", message_key=b"test-message-key")
    guardian = Person(id="g", name="Maria <Silva>", country="BR", locale="pt_BR")
    child = Person(id="c", name="João & Ana", country="BR", locale="pt_BR")
    d = delivery(guardian, child)
    assert composer.render(d) == renderer.render("email", TEMPLATE, "pt_BR", composer.context(d))
    assert "João &amp; Ana" in (composer.render(d).html or "")


def test_incident_text_falls_back_from_region_to_language_to_english() -> None:
    texts = {"en": "E", "pt": "P"}
    assert [pick_text(texts, loc) for loc in ("pt_BR", "pt", "de")] == ["P", "P", "E"]


def test_the_message_id_is_stable_per_idempotency_key_and_keyed() -> None:
    k = b"test-message-key"
    assert message_id_for("I:p:email:1", "example.org", k) == message_id_for(
        "I:p:email:1", "example.org", k
    )
    assert message_id_for("I:p:email:1", "x.org", k) != message_id_for("I:p:email:2", "x.org", k)
    assert message_id_for("I:p:email:1", "x.org", k) != message_id_for("I:p:email:1", "x.org", b"o")
