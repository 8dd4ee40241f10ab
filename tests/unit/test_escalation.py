"""Escalation plans evaluated with a fake clock: which steps are due, which wait as timers."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident.domain.escalation import (
    SCHEDULED,
    AttemptState,
    EscalationPlan,
    Routing,
    evaluate,
    parse_duration,
    parse_routing,
    read_routing,
)
from incident.errors import ConfigError

T0 = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
KNOWN = ("email", "sms", "voice", "letter", "push")
EVERYTHING = ("email", "sms", "voice", "letter")

ROUTING = """
[severity.critical]
steps = [
  { channels = ["email", "sms"] },
  { channels = ["voice"], after = "4h", unless = "delivered" },
  { channels = ["letter"], after = "48h", unless = "confirmed" },
]
[severity.low]
steps = [{ channels = ["email", "sms", "letter"], mode = "first" }]
"""


def routing(text: str = ROUTING) -> Routing:
    return parse_routing(tomllib.loads(text), source="routing.toml", known=KNOWN)


def critical() -> EscalationPlan:
    plan = routing().plan_for("critical")
    assert plan is not None
    return plan


def at(status: str, when: datetime = T0, not_before: datetime | None = None) -> AttemptState:
    return AttemptState(status, when, not_before)


def started(email: str = "sent", sms: str = "sent") -> dict[str, AttemptState]:
    """The critical plan after its first step went out at T0: two attempts, two timers."""
    return {
        "email": at(email),
        "sms": at(sms),
        "voice": at(SCHEDULED, T0, T0 + 4 * H),
        "letter": at(SCHEDULED, T0, T0 + 48 * H),
    }


def run(plan: EscalationPlan, attempts: dict[str, AttemptState], now: datetime, **kw: object):  # type: ignore[no-untyped-def]
    return evaluate(
        plan,
        attempts=attempts,
        usable=kw.get("usable", EVERYTHING),  # type: ignore[arg-type]
        preferences=kw.get("preferences", ()),  # type: ignore[arg-type]
        problems={"voice": "phone missing", "sms": "phone missing"},
        now=now,
    )


def test_critical_starts_with_email_and_sms_at_once_and_schedules_the_rest_as_timers() -> None:
    d = run(critical(), {}, T0)
    assert d.send == ["email", "sms"]
    assert d.schedule == {"voice": T0 + 4 * H, "letter": T0 + 48 * H}
    assert (d.wake, d.live, d.cancel) == (T0 + 4 * H, True, {})


def test_nothing_happens_before_the_voice_timer() -> None:
    d = run(critical(), started(), T0 + 3 * H)
    assert (d.send, d.schedule, d.cancel, d.wake) == ([], {}, {}, T0 + 4 * H)


def test_voice_goes_out_after_4h_when_neither_email_nor_sms_was_delivered() -> None:
    d = run(critical(), started(), T0 + 4 * H)
    assert d.send == ["voice"]
    assert d.wake == T0 + 48 * H  # the letter still waits


def test_voice_is_cancelled_when_email_was_delivered_but_the_letter_still_waits() -> None:
    d = run(critical(), started(email="delivered"), T0 + 4 * H)
    assert d.send == []
    assert list(d.cancel) == ["voice"]
    assert d.wake == T0 + 48 * H


def test_the_letter_goes_out_after_48h_unless_something_was_confirmed() -> None:
    attempts = {**started(email="delivered"), "voice": at("sent", T0 + 4 * H)}
    assert run(critical(), attempts, T0 + 48 * H).send == ["letter"]
    confirmed = {**attempts, "sms": at("confirmed")}
    d = run(critical(), confirmed, T0 + 48 * H)
    assert (d.send, list(d.cancel)) == ([], ["letter"])
    assert d.live  # told, and confirmed: nothing is lost


def test_a_timer_keeps_its_due_time_when_earlier_attempts_are_claimed_again() -> None:
    """The timer is the row's not_before, not a time recomputed from the attempts."""
    attempts = {**started(), "email": at("retry", T0 + 3 * H, T0 + 5 * H)}
    assert run(critical(), attempts, T0 + 4 * H).send == ["email", "voice"]


def test_a_step_fires_early_when_everything_before_it_came_back() -> None:
    d = run(critical(), started(email="bounced", sms="failed"), T0 + timedelta(minutes=10))
    assert d.send == ["voice"]


def test_someone_reachable_only_by_letter_gets_the_letter_at_once() -> None:
    d = run(critical(), {}, T0, usable=("letter",))
    assert (d.send, d.schedule, d.live) == (["letter"], {}, True)


def test_without_any_usable_channel_the_person_is_not_live_and_the_reasons_are_given() -> None:
    d = run(critical(), {}, T0, usable=())
    assert (d.send, d.live) == ([], False)
    assert "voice: phone missing" in d.why_not
    assert len(d.why_not) == 4


def test_a_timer_whose_channel_became_unusable_is_cancelled() -> None:
    d = run(critical(), started(), T0 + 4 * H, usable=("email", "sms", "letter"))
    assert d.cancel == {"voice": "no usable contact point any more"}
    assert d.send == []


def test_first_mode_takes_the_preferred_channel_then_the_next_on_a_verdict() -> None:
    plan = routing().plan_for("low")
    assert plan is not None
    assert run(plan, {}, T0, preferences=["sms"]).send == ["sms"]
    assert run(plan, {"sms": at("sent")}, T0 + H, preferences=["sms"]).send == []
    after_verdict = {"sms": at("failed")}
    assert run(plan, after_verdict, T0 + H, preferences=["sms"]).send == ["email"]
    both = {"sms": at("failed"), "email": at("bounced")}
    assert run(plan, both, T0 + H, preferences=["sms"]).send == ["letter"]
    everything = {**both, "letter": at("undelivered")}
    d = run(plan, everything, T0 + H, preferences=["sms"])
    assert (d.send, d.live) == ([], False)
    assert d.why_not == ["email: bounced", "sms: failed", "letter: undelivered"]


def test_a_severity_without_a_plan_uses_the_default_plan() -> None:
    assert routing().plan_for("medium") is None  # the fallback chain, as before plans
    with_default = routing(ROUTING + '[severity.default]\nsteps = [{ channels = ["push"] }]\n')
    assert with_default.plan_for("medium") == with_default.plans["default"]


E = '{ channels = ["email"] }'
SMS_4H = '{ channels = ["sms"], after = "4h" }'


def high(*steps: str) -> str:
    return f"[severity.high]\nsteps = [{', '.join(steps)}]"


@pytest.mark.parametrize(
    ("text", "entry", "field", "problem"),
    [
        (high(E).replace("high", "urgent"), "severity.urgent", "-", "unknown severity"),
        (high('{ channels = ["fax"] }'), "severity.high.steps[0]", "channels", "'fax' is not"),
        (high(E, SMS_4H.replace("4h", "4 hours")), "severity.high.steps[1]", "after", "duration"),
        (
            high(E, E.replace("}", ', after = "1h" }')),
            "severity.high.steps[1]",
            "channels",
            "already",
        ),
        (high(E.replace("}", ', after = "1h" }')), "severity.high.steps[0]", "after", "first step"),
        (
            high(E, SMS_4H.replace("}", ', unless = "read" }')),
            "severity.high.steps[1]",
            "unless",
            "one of",
        ),
        (
            high(E.replace("}", ', wait = "1h" }')),
            "severity.high.steps[0]",
            "wait",
            "unknown field",
        ),
        (
            high(E, SMS_4H, '{ channels = ["voice"], after = "1h" }'),
            "severity.high.steps[2]",
            "after",
            "in order",
        ),
        (high(), "severity.high", "steps", "non-empty"),
        ("[plans.high]\nsteps = []", "plans", "-", "unknown table"),
    ],
)
def test_a_bad_routing_file_is_refused_with_entry_field_and_rule(
    text: str, entry: str, field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        routing(text)
    assert (info.value.entry, info.value.field) == (entry, field)
    assert problem in info.value.problem


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("4x")


def test_the_shipped_routing_file_is_valid_and_changes_nothing_by_default() -> None:
    shipped = read_routing(Path(__file__).parents[2] / "config" / "routing.toml", known=KNOWN)
    assert shipped.plan_for("critical") is None
    assert read_routing(Path("/nonexistent/routing.toml"), known=KNOWN) == Routing()
    with pytest.raises(ConfigError, match="not found"):
        read_routing(Path("/nonexistent/routing.toml"), known=KNOWN, required=True)
