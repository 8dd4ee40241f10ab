"""Confirmation tokens: short, URL-safe, naming no person, unforgeable without the secret."""

from __future__ import annotations

import base64
import hashlib

from incident.service.compose import message_id_for
from incident.service.confirmation import TOKEN_LEN, _decode, link_for, token_for
from incident.service.keyed_ids import message_key_of

KEY = "I1:p1:email:1"
SECRET = b"s" * 32


def test_a_token_is_38_url_safe_characters_and_names_no_person() -> None:
    token = token_for(KEY, SECRET)
    assert len(token) == TOKEN_LEN == 38
    assert base64.urlsafe_b64encode(base64.urlsafe_b64decode(token + "==")).rstrip(b"=") == (
        token.encode()
    )
    assert "p1" not in token and "I1" not in token
    raw = _decode(token)
    message_id = message_id_for(KEY, "example.org", message_key_of(SECRET))
    assert raw is not None and message_id.startswith(raw[:12].hex())  # the keyed Message-ID
    assert raw[:12] != hashlib.sha256(KEY.encode()).digest()[:12]  # not computable without it


def test_the_mac_depends_on_the_secret_and_the_key() -> None:
    assert token_for(KEY, SECRET) == token_for(KEY, SECRET)
    assert token_for(KEY, SECRET) != token_for(KEY, b"other")
    assert token_for(KEY, SECRET) != token_for("I1:p2:email:1", SECRET)


def test_malformed_tokens_are_refused_before_any_lookup() -> None:
    for bad in ("", "short", "x" * 38 + "y", "é" * 38, "!" * 38):
        assert _decode(bad) is None


def test_a_link_fills_the_token_into_the_base_url() -> None:
    token = token_for(KEY, SECRET)
    assert link_for(KEY, secret=SECRET, base_url="https://example.org/c/{token}?x=1") == (
        f"https://example.org/c/{token}?x=1"
    )
    assert link_for(KEY, secret=SECRET, base_url="https://example.org/c/") == (
        f"https://example.org/c/{token}"
    )


def test_every_copy_of_a_cached_render_carries_its_own_link() -> None:
    """Rendered once per locale, each person's email, letter and sms gets their own link."""
    from dataclasses import replace

    from incident.adapters.tables import Person
    from incident.rendering import Renderer
    from incident.service.compose import CONFIRM_SLOT, Composer
    from incident.settings import templates_dir
    from tests.unit.test_compose import delivery

    def link(key: str) -> str:
        return link_for(key, secret=SECRET, base_url="https://example.org/c/{token}?a=1&b=2")

    composer = Composer(
        Renderer(templates_dir()),
        message_domain="example.org",
        message_key=b"test-message-key",
        confirm_link=link,
    )
    anna = delivery(Person(id="p", name="Anna", country="NL", locale="nl"))
    bram_person = Person(id="q", name="Bram", country="NL", locale="nl")
    bram = replace(anna, key="INC-1:q:email:1", recipient=bram_person, subject=bram_person)
    first, second = composer.message(anna), composer.message(bram)
    assert link(anna.key) in first.body_text and link(bram.key) in second.body_text
    assert link(anna.key) not in second.body_text
    assert "Ontvangst bevestigen" in (first.body_html or "")
    assert link(anna.key).replace("&", "&amp;") in (first.body_html or "")
    for channel in ("sms", "letter"):
        text = composer.message(replace(anna, channel=channel)).body_text
        assert link(anna.key) in text and CONFIRM_SLOT not in text
    assert "Antwoord 1" in composer.message(replace(anna, channel="sms")).body_text
