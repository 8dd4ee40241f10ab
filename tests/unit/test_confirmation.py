"""Confirmation tokens: short, URL-safe, naming no person, unforgeable without the secret."""

from __future__ import annotations

import base64
import hashlib

from incident.service.confirmation import TOKEN_LEN, _decode, link_for, token_for

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
    assert raw is not None and raw[:12] == hashlib.sha256(KEY.encode()).digest()[:12]


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
