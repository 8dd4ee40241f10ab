"""Directory rows: every field validated with line, field, value and rule."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from incident.domain.directory_rows import PersonRecord, RowRejected, parse_row

CHANNELS = ("email", "sms")
TODAY = date(2026, 3, 1)


def parse(raw: dict[str, Any], **kw: Any) -> PersonRecord:
    return parse_row(raw, line=7, channels=CHANNELS, today=TODAY, **kw)


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RowRejected) as caught:
        parse(raw)
    assert all(p.line == 7 for p in caught.value.problems)
    return {p.field: p.rule for p in caught.value.problems}


def test_a_csv_row_of_text_becomes_a_typed_record() -> None:
    """Cells are text: lists are `;`-separated, region is normalised to ISO 3166-2."""
    record = parse(
        {
            "id": "p1", "name": "Anna", "country": "US", "region": "CA", "locale": "pt-BR",
            "birth_date": "2001-02-03", "email": "a@x.org; b@y.org", "phone": "+1 415 555 0100",
            "channel_preferences": "sms;email", "created_at": "2020-01-02",
            "postal_street": "1 Main St", "postal_city": "SF", "postal_country": "US",
        }
    )  # fmt: skip
    assert record.region == "US-CA" and record.locale == "pt_BR"
    assert record.emails == ("a@x.org", "b@y.org") and record.phones == ("+14155550100",)
    assert record.channel_preferences == ("sms", "email")
    assert record.created_at == datetime(2020, 1, 2, tzinfo=UTC)
    assert record.postal_address == {"street": "1 Main St", "city": "SF", "country": "US"}
    assert record.person_values()["birth_date"] == "2001-02-03"


def test_a_json_lines_row_gives_lists_and_objects() -> None:
    sub = {"endpoint": "https://push.example/1", "keys": {"p256dh": "k", "auth": "a"}}
    record = parse(
        {
            "id": "p2", "name": "Bo", "country": "NL", "emails": ["a@x.org"],
            "postal_address": {"street": "Dam 1", "city": "Amsterdam", "country": "NL"},
            "push_subscriptions": [sub],
        }
    )  # fmt: skip
    assert record.emails == ("a@x.org",) and record.push_subscriptions == (sub,)
    assert record.phones is None  # not given: what is on file stays
    assert "region" not in record.given


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("country", "XX", "ISO 3166-1"),
        ("country", "nl", "ISO 3166-1"),
        ("region", "ZZ", "ISO 3166-2 code of NL"),
        ("birth_date", "2001-02-30", "real date"),
        ("birth_date", "2030-01-01", "today"),
        ("locale", "english", "language code"),
        ("channel_preferences", "pigeon", "unknown channel"),
        ("email", "not-an-address", "no @"),
        ("phone", "0612345678", "E.164"),
        ("created_at", "2020-01-01T10:00:00", "offset"),
        ("push_subscriptions", "[{]", "not JSON"),
        ("is_minor", "maybe", "true or false"),
        ("shoe_size", "42", "unknown field"),
    ],
)
def test_each_rule_names_the_field_and_why(field: str, value: str, rule: str) -> None:
    raw = {"id": "p1", "name": "Anna", "country": "NL", field: value}
    found = problems(raw)
    assert field in found and rule in found[field]


def test_every_problem_of_a_row_is_reported_at_once() -> None:
    found = problems({"id": "", "name": "", "country": "", "email": "x"})
    assert set(found) == {"id", "name", "country", "email"}


def test_one_bad_address_among_several_rejects_the_row() -> None:
    assert "email" in problems({"id": "p", "name": "A", "country": "NL", "email": "a@x.org;b"})


def test_postal_address_needs_street_city_and_country() -> None:
    found = problems({"id": "p", "name": "A", "country": "NL", "postal_city": "Utrecht"})
    assert "missing: ['street', 'country']" in found["postal_"]


def test_lenient_keeps_what_is_valid_and_lists_the_rest() -> None:
    """The live source: a bad field is a problem of that person, not a lost row."""
    record = parse(
        {"id": "p1", "name": "Anna", "country": "NL", "birth_date": "1990-13-01",
         "email": "good@x.org;bad"},
        lenient=True,
    )  # fmt: skip
    assert record.birth_date is None and record.emails == ("good@x.org",)
    assert len(record.problems) == 2 and "birth_date" in record.problems[0]


def test_lenient_still_needs_an_id() -> None:
    with pytest.raises(RowRejected):
        parse({"name": "Anna", "country": "NL"}, lenient=True)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Anna.Smith@Example.COM", "Anna.Smith@example.com"),  # domain lowercased, local kept
        ("x@xn--strae-oqa.de", "x@straße.de"),  # IDNA: A-labels and U-labels store alike
        ("x@STRASSE.de", "x@strasse.de"),
        ("jörg@bücher.example.org", "jörg@bücher.example.org"),
        (" a@x.org ", "a@x.org"),
    ],
)
def test_emails_are_stored_in_normal_form(given: str, stored: str) -> None:
    """email-validator (offline) gives the form stored: one mailbox, one stored value."""
    record = parse({"id": "p", "name": "A", "country": "NL", "email": given})
    assert record.emails == (stored,)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a@mail.test", "special-use or reserved name"),
        ("a@localhost", "no dot"),
        ("a..b@x.org", "invalid local part"),
        ('"a b"@x.org', "malformed"),
        ("a@[192.0.2.1]", "bracketed IP address"),
    ],
)
def test_invalid_emails_are_rejected_with_the_reason(value: str, reason: str) -> None:
    found = problems({"id": "p", "name": "A", "country": "NL", "email": value})
    assert "not a usable email address" in found["email"] and reason in found["email"]


def test_the_same_mailbox_twice_in_two_spellings_is_stored_once() -> None:
    record = parse({"id": "p", "name": "A", "country": "NL", "email": "a@X.org;a@x.ORG"})
    assert record.emails == ("a@x.org",)


def test_regions_of_hong_kong_and_macao_are_valid_regions_of_cn() -> None:
    """ISO 3166-2:CN lists CN-HK and CN-MO: the row keeps the code, enrichment maps it."""
    assert parse({"id": "p", "name": "A", "country": "CN", "region": "HK"}).region == "CN-HK"
    assert parse({"id": "p", "name": "A", "country": "CN", "region": "CN-MO"}).region == "CN-MO"
