"""The obligations engine: facts about an incident in, every obligation out. Pure: no I/O.

For each rule the engine finds the affected jurisdictions it covers, groups them by the rule's
scope (one obligation per jurisdiction, per country, or one for all), evaluates `applies_when`
on each group's counts, then computes each stage's clock in the authority's calendar.
"""

from __future__ import annotations

from collections.abc import Iterable

from incident.domain.jurisdiction import country_of
from incident.obligations.clocks import (
    AuthorityCalendar,
    authority_calendar,
    default_holiday_calendar,
)
from incident.obligations.conditions import Scope, evaluate
from incident.obligations.facts import IncidentFacts
from incident.obligations.model import Obligation, SubstituteDecision
from incident.obligations.rules import Rule, Rules
from incident.obligations.stages import Clock, Done, stage_clock


def assess(facts: IncidentFacts, rules: Rules) -> list[Obligation]:
    """Every obligation the incident triggers, soonest first."""
    done: Done = {}
    found: list[Obligation] = []
    for rule in rules.rules:
        if facts.role not in rule.roles:
            continue
        for scope, authority in _scopes(rule, facts, rules):
            applies, words = evaluate(rule.applies_when, facts, scope)
            if applies:
                found += _obligations(rule, scope, authority, words, facts, rules, done)
    return sorted(found, key=soonest_first)


def soonest_first(ob: Obligation) -> tuple[int, float, str]:
    when = ob.when
    return (0, when.timestamp(), ob.key) if when else (1, 0.0, ob.key)


def matches(code: str, patterns: Iterable[str], rules: Rules) -> bool:
    """`US-CA` matches `US-CA`, `US` and `@GROUP` containing US; `HK` does not match `CN`."""
    for pattern in patterns:
        members = (
            rules.groups.get(pattern.removeprefix("@"), ())
            if pattern.startswith("@")
            else (pattern,)
        )
        for member in members:
            if code == member or ("-" not in member and country_of(code) == member):
                return True
    return False


def _scopes(rule: Rule, facts: IncidentFacts, rules: Rules) -> list[tuple[Scope, str]]:
    cond = rule.applies_when
    present = [j for j, n in sorted(facts.affected.items()) if n > 0]
    covered = [j for j in present if not matches(j, cond.not_jurisdictions, rules)]
    if cond.jurisdictions:
        covered = [j for j in covered if matches(j, cond.jurisdictions, rules)]
        if not covered:
            return []
    if (
        rule.one_stop_shop
        and facts.establishment
        and matches(facts.establishment, cond.jurisdictions, rules)
    ):
        return [(_scope(facts, covered, facts.establishment), facts.establishment)]
    if rule.scope == "each":
        return [(_scope(facts, [j], j), j) for j in covered]
    if rule.scope == "each_country":
        countries = sorted({country_of(j) for j in covered})
        return [
            (_scope(facts, [j for j in covered if country_of(j) == c], c), c) for c in countries
        ]
    authority = (
        (facts.establishment or "EU") if rule.authority == "establishment" else rule.authority
    )
    return [(_scope(facts, covered, "all"), authority)]


def _scope(facts: IncidentFacts, codes: list[str], label: str) -> Scope:
    return Scope(
        label=label,
        jurisdictions=tuple(codes),
        persons=sum(facts.affected.get(j, 0) for j in codes),
        unreachable=sum(facts.unreachable.get(j, 0) for j in codes),
    )


def calendar_for(authority: str, rules: Rules) -> AuthorityCalendar:
    zone = rules.zones.get(authority) or rules.zones.get(country_of(authority)) or "UTC"
    if authority in rules.calendars:
        holiday_calendar = rules.calendars[authority]
    elif authority and authority not in rules.groups:
        holiday_calendar = default_holiday_calendar(authority)
    else:
        holiday_calendar = ""
    closures = rules.closures.get(authority) or rules.closures.get(country_of(authority)) or ()
    return authority_calendar(authority, zone, holiday_calendar, tuple(closures))


def _obligations(
    rule: Rule, scope: Scope, authority: str, words: list[str],
    facts: IncidentFacts, rules: Rules, done: Done,
) -> list[Obligation]:  # fmt: skip
    cal = calendar_for(authority, rules)
    reason = rule.why + (f"; matched: {'; '.join(w for w in words if w)}" if any(words) else "")
    local: dict[str, Clock] = {}
    out = []
    for stage in rule.stages:
        clock = stage_clock(rule, stage, facts, rules, cal, local, done)
        local[stage.stage] = clock
        done.setdefault((rule.id, stage.stage), []).append((authority, clock))
        out.append(
            _obligation(rule, stage.stage, stage.words, scope, authority, reason, clock, cal, facts)
        )
    return out


def _obligation(
    rule: Rule, stage: str, deadline: str, scope: Scope, authority: str, reason: str,
    clock: Clock, cal: AuthorityCalendar, facts: IncidentFacts,
) -> Obligation:  # fmt: skip
    extra = tuple(
        i for x in rule.extra_content if evaluate(x.when, facts, scope)[0] for i in x.items
    )
    return Obligation(
        rule_id=rule.id, regime=rule.regime, recipient=rule.recipient,
        recipient_name=rule.recipient_name, stage=stage, jurisdiction=authority,
        persons=scope.persons, reason=reason, citation_article=rule.citation.article,
        citation_url=rule.citation.url, clock_start_kind=clock.kind, clock_start=clock.start,
        due=clock.due, target=clock.target, deadline=deadline, clock_note=clock.note,
        time_zone=cal.zone.key, content_items=rule.content_items + extra,
        forbidden_items=rule.forbidden_items, substitute=_substitute(rule, scope, facts),
        law_enforcement_delay=rule.law_enforcement_delay, verify=rule.verify,
    )  # fmt: skip


def _substitute(rule: Rule, scope: Scope, facts: IncidentFacts) -> SubstituteDecision | None:
    if rule.recipient != "individuals":
        return None
    for case in rule.substitute_notice:
        holds, words = evaluate(case.when, facts, scope)
        if holds:
            matched = f" ({'; '.join(w for w in words if w)})" if any(words) else ""
            return SubstituteDecision(case.decision, case.means, case.reason + matched)
    if not rule.substitute_notice:
        return SubstituteDecision("individual", (), "individual notice; no substitute provided")
    return SubstituteDecision("individual", (), "individual notice: no substitute condition met")
