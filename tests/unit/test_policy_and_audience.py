"""Routing and audience decisions are pure functions."""

from __future__ import annotations

from datetime import date

from incident.domain.audience import DirectoryEntry, decide_audience
from incident.domain.policy import next_channel, preferred_order, retry_delay

KINDS = {"email": ("email",), "sms": ("phone",), "letter": ("postal",)}


def test_the_first_channel_with_a_usable_contact_point_is_chosen() -> None:
    route = next_channel(
        ["email", "sms"],
        available=KINDS,
        usable={"sms"},
        problems={"email": "missing"},
        contact_kinds=KINDS,
        exhausted=(),
    )
    assert route.channel == "sms"


def test_a_person_with_no_usable_channel_is_unreachable_with_every_reason() -> None:
    route = next_channel(
        ["email", "sms"],
        available={"email": 1, "sms": 1},
        usable={"sms"},
        problems={"email": "missing"},
        contact_kinds=KINDS,
        exhausted={"sms"},
    )
    assert route.channel is None
    assert route.reason == "email: email missing; sms: failed"


def test_channels_not_built_yet_are_skipped_in_the_chain() -> None:
    route = next_channel(
        ["letter", "email"],
        available={"email": 1},
        usable={"email", "letter"},
        problems={},
        contact_kinds=KINDS,
        exhausted=(),
    )
    assert route.channel == "email"


def test_a_persons_preferred_channels_come_first_but_only_those_the_chain_allows() -> None:
    assert preferred_order(["email", "sms", "letter"], ["letter", "fax"]) == [
        "letter",
        "email",
        "sms",
    ]


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(t, base_seconds=2) for t in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(30, base_seconds=2, cap_seconds=60) == 60


def entry(pid: str, **kw: object) -> DirectoryEntry:
    base: dict[str, object] = {
        "country": "NL",
        "region": None,
        "is_minor": False,
        "birth_date": None,
        "guardian_id": None,
    }
    return DirectoryEntry(pid, **{**base, **kw})  # type: ignore[arg-type]


def test_a_minor_is_told_through_their_guardian() -> None:
    child = entry("c", birth_date="2015-05-01", guardian_id="g")
    decision = decide_audience(
        child,
        entry("g"),
        today=date(2026, 1, 1),
        majority_ages={"default": 18},
    )
    assert (decision.is_minor, decision.recipient_id) == (True, "g")


def test_age_of_majority_follows_the_country() -> None:
    person = entry("k", country="KR", birth_date="2007-06-01")
    decision = decide_audience(
        person, None, today=date(2026, 1, 1), majority_ages={"default": 18, "KR": 19}
    )
    assert decision.is_minor is True


def test_a_minor_without_guardian_is_told_directly_and_the_gap_recorded() -> None:
    child = entry("c", is_minor=True)
    decision = decide_audience(child, None, today=date(2026, 1, 1), majority_ages={"default": 18})
    assert decision.recipient_id == "c"
    assert "guardian" in decision.problems


def test_a_person_in_a_region_has_the_regions_jurisdiction() -> None:
    person = entry("p", region="US-CA", country="US")
    decision = decide_audience(person, None, today=date(2026, 1, 1), majority_ages={"default": 18})
    assert decision.jurisdiction == "US-CA"
