"""One stage's clock: what starts it, how long it runs, and what a law-enforcement delay does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from incident.obligations.clocks import (
    AuthorityCalendar,
    add_business_days,
    add_calendar_days,
    add_hours,
    add_months,
    end_of_local_day,
    paused,
    postponed,
    roll_to_business_day,
    start_of_next_year,
)
from incident.obligations.facts import IncidentFacts
from incident.obligations.rules import Rule, Rules, Stage

_FACT_OF_START = {
    "awareness": "aware_at",
    "discovery": "discovered_at",
    "determination": "determined_at",
    "materiality": "material_at",
    "assessment": "assessed_at",
    "handling_end": "handled_at",
    "extortion_payment": "extortion_paid_at",
}


@dataclass(frozen=True, slots=True)
class Clock:
    kind: str
    start: datetime | None
    due: datetime | None
    target: datetime | None
    note: str


SENT = "sent:"  # a clock that runs from a notice actually sent: `sent:<rule id>/<stage>`

# Computed clocks by (rule id, stage): [(authority jurisdiction, clock)], for `rule:` starts.
Done = dict[tuple[str, str], list[tuple[str, Clock]]]


@dataclass(frozen=True, slots=True)
class _Start:
    at: datetime | None
    kind: str
    note: str = ""
    from_target: bool = False  # started by a deadline that has only a target


def stage_clock(
    rule: Rule, stage: Stage, facts: IncidentFacts, rules: Rules,
    cal: AuthorityCalendar, local: dict[str, Clock], done: Done,
) -> Clock:  # fmt: skip
    start = _start(stage.clock_start, facts, cal, local, done)
    if start.at is None and stage.clock_fallback:
        fallback = _start(stage.clock_fallback, facts, cal, local, done)
        note = f"{stage.clock_start} not recorded: counted from {fallback.kind}"
        projected = fallback.from_target
        if stage.clock_start.startswith(SENT) and _amount(stage, facts)[0] > 0:
            # The clock runs from the notice actually sent: until then it has not started, and
            # the earlier notice's deadline only projects the latest it could end.
            note = (
                f"{start.kind} not yet recorded: the clock starts when that notice is sent; "
                f"projected from {fallback.kind} (not a legal due time)"
            )
            projected = True
        start = _Start(fallback.at, fallback.kind, _join(note, fallback.note), projected)
    if start.at is None:
        return Clock(
            start.kind, None, None, None, _join(f"clock starts at {start.kind}", start.note)
        )
    amount, unit, note = _amount(stage, facts)
    due: datetime | None
    target: datetime | None
    if unit == "target":
        hours = (
            stage.target_hours
            if stage.target_hours is not None
            else rules.targets[str(stage.target)]
        )
        due, target = None, add_hours(start.at, hours).astimezone(cal.zone)
        note = _join(note, f"no fixed time in the law: organisation target {hours} h")
    else:
        end = _advance(start.at, amount, unit, cal, stage.ends_at)
        if stage.end_of_day:
            end = end_of_local_day(end, cal)
        if stage.rolls_to_business_day:
            rolled = roll_to_business_day(end, cal)
            if rolled != end:
                note = _join(note, "the last day is a closed day: moved to the next business day")
            end = rolled
        due, target = (None, end) if start.from_target else (end, None)
    due, target, delay_note = _delay(rule, facts, start.at, due, target)
    sooner_note = ""
    if stage.or_when_sent is not None:
        due, sooner_note = _whichever_sooner(stage.or_when_sent, facts, cal, due)
    return Clock(
        start.kind, start.at, due, target, _join(start.note, note, delay_note, sooner_note)
    )


def _whichever_sooner(
    sent_start: str, facts: IncidentFacts, cal: AuthorityCalendar, due: datetime | None
) -> tuple[datetime | None, str]:
    """A deadline that is also reached when another notice is actually sent, if that is
    sooner (Vermont's preliminary notice: 14 business days, or when consumers are told)."""
    sent = _sent(sent_start.removeprefix(SENT), facts, cal)
    if sent.at is None:
        return (
            due,
            f"or when the {sent.kind.removesuffix(' notice sent')} notice is sent, if sooner",
        )
    if due is None or sent.at < due:
        return sent.at, f"whichever is sooner: due when the {sent.kind} ({sent.at.isoformat()})"
    return due, f"whichever is sooner: the fixed term ends before the {sent.kind}"


def _start(
    name: str, facts: IncidentFacts, cal: AuthorityCalendar, local: dict[str, Clock], done: Done
) -> _Start:
    if name in _FACT_OF_START:
        at: datetime | None = getattr(facts, _FACT_OF_START[name])
        return _Start(at, name)
    if name == "year_end_of_discovery":
        discovered = facts.discovered_at or facts.aware_at
        note = "" if facts.discovered_at else "discovery not recorded: awareness used"
        return _Start(
            start_of_next_year(discovered, cal), "end of the calendar year of discovery", note
        )
    if name.startswith(SENT):
        return _sent(name.removeprefix(SENT), facts, cal)
    if name.startswith("stage:"):
        return _from_clock(name.removeprefix("stage:"), local.get(name.removeprefix("stage:")))
    if name.startswith("rule:"):
        rule_id, _, stage = name.removeprefix("rule:").partition("/")
        clocks = done.get((rule_id, stage), [])
        same = [c for a, c in clocks if a == cal.jurisdiction] or [c for _, c in clocks]
        return _from_clock(f"{rule_id} {stage}", same[0] if same else None)
    return _Start(None, name)  # e.g. question_received: a clock per question, never the incident's


def _sent(rule_stage: str, facts: IncidentFacts, cal: AuthorityCalendar) -> _Start:
    """When the notice of `rule id/stage` was actually sent (to this authority, if recorded)."""
    kind = f"{rule_stage} notice sent"
    sent = facts.notified_at
    at = sent.get(f"{rule_stage}/{cal.jurisdiction}") or sent.get(rule_stage)
    return _Start(at, kind)


def _from_clock(label: str, clock: Clock | None) -> _Start:
    if clock is None or (clock.due is None and clock.target is None):
        return _Start(None, f"{label} deadline")
    if clock.due is not None:
        return _Start(clock.due, f"{label} deadline")
    return _Start(clock.target, f"{label} target", f"{label} has no fixed time", from_target=True)


def _amount(stage: Stage, facts: IncidentFacts) -> tuple[int, str, str]:
    unit = stage.unit
    amount = int(getattr(stage, unit)) if unit != "target" else 0
    notes = []
    for variant in stage.variants:
        if not facts.flag(variant.flag):
            continue
        for name in ("hours", "calendar_days", "business_days"):
            value = getattr(variant, name)
            if value is not None:
                amount, unit = value, name
                notes.append(f"{variant.flag}: {value} {name.replace('_', ' ')}")
        if variant.factor is not None:
            amount *= variant.factor
            notes.append(f"{variant.flag}: deadline x{variant.factor}")
    return amount, unit, "; ".join(notes)


def _advance(
    start: datetime, amount: int, unit: str, cal: AuthorityCalendar, ends_at: str | None = None
) -> datetime:
    if unit == "hours":
        return add_hours(start, amount).astimezone(cal.zone)
    if unit == "calendar_days":
        return add_calendar_days(start, amount, cal)
    if unit == "months":
        return add_months(start, amount, cal)
    if ends_at is not None:
        return add_business_days(start, amount, cal, time.fromisoformat(ends_at))
    return add_business_days(start, amount, cal)


def _delay(
    rule: Rule, facts: IncidentFacts, start: datetime, due: datetime | None, target: datetime | None
) -> tuple[datetime | None, datetime | None, str]:
    delay = facts.law_enforcement_delay
    if delay is None:
        return due, target, ""
    allowed = rule.law_enforcement_delay == "allowed" or (
        rule.law_enforcement_delay == "national_security_only" and delay.national_security
    )
    if not allowed:
        return due, target, "a recorded law-enforcement delay does not extend this deadline"
    note = ""
    if rule.law_enforcement_delay == "national_security_only":
        # SEC Item 1.05(c): a postponement of the filing from its due time, not a pause.
        if due is not None:
            due, note = postponed(due, delay)
        return due, target, note
    if due is not None:
        due, note = paused(due, start, delay)
    if target is not None:
        target, note = paused(target, start, delay)
    return due, target, note


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
