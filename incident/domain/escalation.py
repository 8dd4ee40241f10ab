"""Routing and escalation as data: per severity, an ordered plan of steps with waits. Pure.

`config/routing.toml`:

    [severity.critical]
    steps = [
      { channels = ["email", "sms"] },                                # both at once
      { channels = ["voice"], after = "4h", unless = "delivered" },
      { channels = ["letter"], after = "48h", unless = "confirmed" },
    ]

A step's channels go out together (`mode = "all"`, the default) or one at a time in the
person's preferred order, the next only after a recipient verdict (`mode = "first"`). `after`
counts from when the plan started (its first step went out); `unless` skips the step when an
attempt of an earlier step reached that state (sent < delivered < confirmed). A step still waiting
fires early when nothing earlier is live any more (every earlier attempt came back, or had no
usable contact point): there is nothing left to wait for. A channel appears in one step only
(its idempotency key is per channel). A severity without a plan uses `[severity.default]`, and
without that the default plan: `dispatch.fallback_chain` as one `first` step, i.e. the routing
there was before plans existed (planning keeps its single-chain path for it).

Timers are rows, not sleeps: a step not due yet is written as its attempt rows in status
`scheduled` with `not_before` = its due time, so a restart keeps it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from incident.domain.model import Severity
from incident.domain.policy import preferred_order
from incident.errors import ConfigError

SCHEDULED = "scheduled"  # an escalation timer: the attempt of a step not due yet
CANCELLED = "cancelled"  # a timer whose step is no longer needed (its `unless` was met)
CONDITIONS = {"sent": 1, "delivered": 2, "confirmed": 3}  # what an attempt reached, ranked
_RETURNED = frozenset({"bounced", "undelivered", "failed", CANCELLED})
_LIVE = frozenset({"sending", "sent", "delivered", "confirmed", "retry"})
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


@dataclass(frozen=True, slots=True)
class Step:
    channels: tuple[str, ...]
    after: timedelta = timedelta(0)
    unless: str | None = None  # sent | delivered | confirmed
    mode: str = "all"  # all: at once | first: preferred order, next on a verdict


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    steps: tuple[Step, ...]

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(ch for step in self.steps for ch in step.channels)


@dataclass(frozen=True, slots=True)
class Routing:
    plans: Mapping[str, EscalationPlan] = field(default_factory=dict)  # severity -> plan

    def plan_for(self, severity: str) -> EscalationPlan | None:
        """None: the default plan (the fallback chain, one channel at a time)."""
        return self.plans.get(severity) or self.plans.get("default")


@dataclass(frozen=True, slots=True)
class AttemptState:
    status: str
    at: datetime  # when it was claimed (or scheduled)
    not_before: datetime | None = None


@dataclass
class Decision:
    send: list[str] = field(default_factory=list)  # channels to deliver now
    schedule: dict[str, datetime] = field(default_factory=dict)  # new timers: channel -> due
    cancel: dict[str, str] = field(default_factory=dict)  # timers not needed: channel -> why
    wake: datetime | None = None  # the earliest timer still running
    live: bool = False  # something went out, is in flight or waits: the person is not lost
    why_not: list[str] = field(default_factory=list)  # channels that cannot be used, and why


def evaluate(
    plan: EscalationPlan,
    *,
    attempts: Mapping[str, AttemptState],
    usable: Collection[str],
    preferences: Sequence[str],
    problems: Mapping[str, str],
    now: datetime,
) -> Decision:
    """Which steps are due now, given the attempts so far (channel -> state) and the clock.

    `usable`: channels configured here for which the person has a usable contact point;
    `problems`: why another channel of the plan cannot be used (for the reason recorded)."""
    decision = Decision()
    start = min((a.at for a in attempts.values()), default=now)
    reached, waiting = 0, False
    for step in plan.steps:
        mine = {ch: attempts[ch] for ch in step.channels if ch in attempts}
        if step.unless is not None and reached >= CONDITIONS[step.unless]:
            for ch, timer in mine.items():
                if timer.status == SCHEDULED:
                    decision.cancel[ch] = f"not needed: {step.unless} on an earlier channel"
        else:
            waiting = _step(step, mine, decision, start, waiting, usable, preferences, now)
        for ch in step.channels:
            a = attempts.get(ch)
            if a is not None:
                reached = max(reached, CONDITIONS.get(a.status, 0))
                waiting = waiting or a.status in _LIVE
            why = _why_not(ch, a, usable, problems)
            if why is not None:
                decision.why_not.append(why)
    decision.live = waiting or bool(decision.send)
    return decision


def _step(
    step: Step,
    mine: Mapping[str, AttemptState],
    decision: Decision,
    start: datetime,
    waiting: bool,
    usable: Collection[str],
    preferences: Sequence[str],
    now: datetime,
) -> bool:
    """Fire, or keep waiting for, one step; whether something is now waited for."""
    timers = [a.not_before for a in mine.values() if a.status == SCHEDULED and a.not_before]
    due_at = min(timers, default=start + step.after)
    fired = any(a.status not in (SCHEDULED, CANCELLED) for a in mine.values())
    order = preferred_order(step.channels, preferences) if step.mode == "first" else step.channels
    open_ = [
        ch for ch in order if ch in usable and (ch not in mine or mine[ch].status not in _RETURNED)
    ]
    if step.mode == "first":
        open_ = open_[:1]
    for ch, a in mine.items():
        if a.status == SCHEDULED and ch not in open_:
            decision.cancel[ch] = "no usable contact point any more"
    if fired or now >= due_at or not waiting:
        for ch in open_:
            if ch not in mine or mine[ch].status in (SCHEDULED, "retry"):
                decision.send.append(ch)
        return waiting or bool(open_)
    for ch in open_:
        if ch not in mine:
            decision.schedule[ch] = due_at
    if open_:
        decision.wake = due_at if decision.wake is None else min(decision.wake, due_at)
    return waiting or bool(open_)


def _why_not(
    ch: str, a: AttemptState | None, usable: Collection[str], problems: Mapping[str, str]
) -> str | None:
    if a is not None and a.status in _RETURNED:
        return f"{ch}: {a.status}"
    if a is None and ch not in usable:
        return f"{ch}: {problems.get(ch, 'no usable contact point')}"
    return None


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '4h', '2d', '1h30m' -> timedelta; ValueError otherwise."""
    compact = text.replace(" ", "").lower()
    if not compact or _DURATION.sub("", compact):
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 4h, 2d or 1h30m")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(compact)))


def read_routing(path: Path, *, known: Collection[str], required: bool = False) -> Routing:
    """`config/routing.toml`; a missing file is the default routing unless `required`."""
    if not path.is_file():
        if required:
            raise ConfigError(str(path), "-", "-", "routing file not found")
        return Routing()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", "-", f"not valid TOML: {exc}") from exc
    return parse_routing(data, source=str(path), known=known)


def parse_routing(data: Mapping[str, Any], *, source: str, known: Collection[str]) -> Routing:
    """Validate a routing document; every problem is a ConfigError naming entry and field."""
    for key in data:
        if key != "severity":
            raise ConfigError(source, key, "-", "unknown table; plans go under [severity.<name>]")
    tables = data.get("severity", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(source, "severity", "-", "must be a table of plans")
    names = {s.value for s in Severity} | {"default"}
    plans: dict[str, EscalationPlan] = {}
    for name, table in tables.items():
        entry = f"severity.{name}"
        if name not in names:
            raise ConfigError(source, entry, "-", f"unknown severity; one of {sorted(names)}")
        if not isinstance(table, Mapping) or set(table) != {"steps"}:
            raise ConfigError(source, entry, "steps", "a plan is a table with `steps` only")
        steps = table["steps"]
        if not isinstance(steps, list) or not steps:
            raise ConfigError(source, entry, "steps", "must be a non-empty list of steps")
        plans[name] = _plan(steps, entry, source, known)
    return Routing(plans)


def _plan(steps: list[Any], entry: str, source: str, known: Collection[str]) -> EscalationPlan:
    parsed: list[Step] = []
    seen: set[str] = set()
    for i, raw in enumerate(steps):
        where = f"{entry}.steps[{i}]"
        step = _step_of(raw, where, source, known)
        again = seen & set(step.channels)
        if again:
            raise ConfigError(source, where, "channels", f"{sorted(again)} already in a step")
        seen |= set(step.channels)
        if i == 0 and (step.after or step.unless):
            raise ConfigError(source, where, "after", "the first step starts the plan: no wait")
        if parsed and step.after < parsed[-1].after:
            raise ConfigError(source, where, "after", "steps are in order: not before the last")
        parsed.append(step)
    return EscalationPlan(tuple(parsed))


def _step_of(raw: Any, where: str, source: str, known: Collection[str]) -> Step:
    if not isinstance(raw, Mapping):
        raise ConfigError(source, where, "-", "a step is a table {channels, after, unless, mode}")
    extra = set(raw) - {"channels", "after", "unless", "mode"}
    if extra:
        raise ConfigError(source, where, sorted(extra)[0], "unknown field")
    channels = raw.get("channels")
    if (
        not isinstance(channels, list)
        or not channels
        or not all(isinstance(c, str) for c in channels)
    ):
        raise ConfigError(source, where, "channels", "a non-empty list of channel names")
    for name in channels:
        if name not in known:
            raise ConfigError(
                source, where, "channels", f"{name!r} is not a channel: {sorted(known)}"
            )
    if len(set(channels)) != len(channels):
        raise ConfigError(source, where, "channels", "a channel is named twice")
    try:
        after = parse_duration(str(raw.get("after", "0s")))
    except ValueError as exc:
        raise ConfigError(source, where, "after", str(exc)) from exc
    unless = raw.get("unless")
    if unless is not None and unless not in CONDITIONS:
        raise ConfigError(source, where, "unless", f"{unless!r}: one of {list(CONDITIONS)}")
    mode = raw.get("mode", "all")
    if mode not in ("all", "first"):
        raise ConfigError(source, where, "mode", f"{mode!r}: 'all' (at once) or 'first'")
    return Step(tuple(channels), after, unless, mode)
