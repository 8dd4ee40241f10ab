"""Read `config/obligations.toml` and refuse, at start, anything a lawyer mistyped.

Every problem is a `ConfigError(file, entry, field, problem)`: the file, the rule's id (or the
section), the field path and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from incident.domain.jurisdiction import is_valid_jurisdiction
from incident.errors import ConfigError
from incident.obligations.conditions import Condition
from incident.obligations.rules import CLOCK_STARTS, RECIPIENTS, REGIMES, Rule, Rules
from incident.settings import config_dir

RULES_FILE = "obligations.toml"
_SECTIONS = {"targets", "groups", "zones", "calendars", "closures", "flags", "rule"}


def default_rules_path() -> Path:
    return config_dir() / RULES_FILE


@lru_cache(maxsize=8)
def load_rules(path: Path | None = None) -> Rules:
    """The validated rules; cached per path, so call it freely."""
    path = path or default_rules_path()
    name = str(path)
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ConfigError(name, "-", "-", f"cannot be read: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(name, "-", "-", f"not valid TOML: {exc}") from exc
    for key in data:
        if key not in _SECTIONS:
            raise ConfigError(name, key, "-", f"unknown section; use {sorted(_SECTIONS)}")
    tables = {
        key: _table(name, data, key)
        for key in ("targets", "groups", "zones", "calendars", "closures", "flags")
    }
    rules = tuple(_rule(name, i, entry) for i, entry in enumerate(_rule_list(name, data)))
    try:
        loaded = Rules(
            file=name, fingerprint=hashlib.sha256(raw).hexdigest(), rules=rules, **tables
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(name, str(err["loc"][0]), _loc(err["loc"][1:]), err["msg"]) from exc
    _check_tables(loaded)
    seen: set[str] = set()
    for rule in loaded.rules:
        if rule.id in seen:
            raise ConfigError(name, rule.id, "id", "duplicate rule id")
        _check_rule(loaded, rule, seen)
        seen.add(rule.id)
    return loaded


def _table(file: str, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(file, key, "-", "must be a table")
    return value


def _rule_list(file: str, data: dict[str, Any]) -> list[Any]:
    entries = data.get("rule")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(file, "rule", "-", "no [[rule]] entries")
    return entries


def _rule(file: str, index: int, entry: Any) -> Rule:
    entry_name = (
        str(entry.get("id", f"rule #{index + 1}"))
        if isinstance(entry, dict)
        else f"rule #{index + 1}"
    )
    try:
        return Rule.model_validate(entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(file, entry_name, _loc(err["loc"]) or "-", err["msg"]) from exc


def _loc(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _check_tables(rules: Rules) -> None:
    for zone_of, zone in rules.zones.items():
        if not (zone_of in rules.groups or is_valid_jurisdiction(zone_of)):
            raise ConfigError(rules.file, "zones", zone_of, "not a jurisdiction or group")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(rules.file, "zones", zone_of, f"unknown time zone {zone!r}") from exc
    for group, members in rules.groups.items():
        for code in members:
            if not is_valid_jurisdiction(code):
                raise ConfigError(rules.file, "groups", group, f"{code!r} is not an ISO 3166 code")


def _check_rule(rules: Rules, rule: Rule, earlier: set[str]) -> None:
    def fail(field: str, problem: str) -> ConfigError:
        return ConfigError(rules.file, rule.id, field, problem)

    if rule.regime not in REGIMES:
        raise fail("regime", f"unknown regime {rule.regime!r}; use one of {list(REGIMES)}")
    if rule.recipient not in RECIPIENTS:
        raise fail(
            "recipient", f"unknown recipient {rule.recipient!r}; use one of {list(RECIPIENTS)}"
        )
    for field, cond in _conditions(rule):
        _check_condition(rules, cond, field, fail, top=field == "applies_when")
    if rule.authority not in ("", "establishment") and not _known_place(rules, rule.authority):
        raise fail("authority", f"{rule.authority!r} is not a jurisdiction or group")
    needs_calendar = any(
        s.unit not in ("hours", "target") and s.clock_start != "question_received"
        for s in rule.stages
    )
    if rule.scope == "all" and not rule.authority and needs_calendar:
        raise fail("authority", "a day-based deadline needs the authority whose calendar counts")
    _check_stages(rules, rule, earlier, fail)


def _check_stages(rules: Rules, rule: Rule, earlier: set[str], fail: Any) -> None:
    names: list[str] = []
    for i, stage in enumerate(rule.stages):
        for key in ("clock_start", "clock_fallback"):
            value = getattr(stage, key)
            if value is not None and not _valid_start(rules, value, names, earlier):
                raise fail(
                    f"stages[{i}].{key}",
                    f"unknown clock start {value!r}; use one of "
                    f"{list(CLOCK_STARTS)}, stage:<earlier stage>, rule:<earlier id>/<stage> "
                    "or sent:<id>/<stage>",
                )
        if stage.or_when_sent is not None and not _valid_start(
            rules, stage.or_when_sent, names, earlier
        ):
            raise fail(
                f"stages[{i}].or_when_sent",
                f"{stage.or_when_sent!r} names no rule stage of the file (sent:<id>/<stage>)",
            )
        if stage.target is not None and stage.target not in rules.targets:
            raise fail(f"stages[{i}].target", f"{stage.target!r} is not in [targets]")
        for variant in stage.variants:
            if variant.flag not in rules.flags:
                raise fail(f"stages[{i}].variants", f"unknown flag {variant.flag!r}")
        if stage.stage in names:
            raise fail(f"stages[{i}].stage", f"duplicate stage {stage.stage!r}")
        names.append(stage.stage)


def _conditions(rule: Rule) -> Iterator[tuple[str, Condition]]:
    yield "applies_when", rule.applies_when
    for i, case in enumerate(rule.substitute_notice):
        yield f"substitute_notice[{i}].when", case.when
    for i, extra in enumerate(rule.extra_content):
        yield f"extra_content[{i}].when", extra.when


def _check_condition(rules: Rules, cond: Condition, field: str, fail: Any, *, top: bool) -> None:
    if cond.jurisdictions and not top:
        raise fail(f"{field}.jurisdictions", "jurisdictions belong at the top of applies_when")
    for code in (*cond.jurisdictions, *cond.not_jurisdictions):
        if not _known_place(rules, code):
            raise fail(f"{field}.jurisdictions", f"{code!r} is not a jurisdiction or @group")
    for flag in cond.flags:
        if flag not in rules.flags:
            raise fail(f"{field}.flags", f"unknown flag {flag!r}; declare it in [flags]")
    for i, alt in enumerate(cond.any_of):
        _check_condition(rules, alt, f"{field}.any_of[{i}]", fail, top=False)
    if cond.unless is not None:
        _check_condition(rules, cond.unless, f"{field}.unless", fail, top=False)


def _known_place(rules: Rules, code: str) -> bool:
    if code.startswith("@"):
        return code[1:] in rules.groups
    return code in rules.groups or is_valid_jurisdiction(code)


def _valid_start(rules: Rules, value: str, stages: list[str], earlier: set[str]) -> bool:
    if value in CLOCK_STARTS:
        return True
    if value.startswith("stage:"):
        return value.removeprefix("stage:") in stages
    if value.startswith("sent:"):  # a notice actually sent: any rule of the file, any order
        rule_id, _, stage = value.removeprefix("sent:").partition("/")
        return any(r.id == rule_id and any(s.stage == stage for s in r.stages) for r in rules.rules)
    if value.startswith("rule:"):
        rule_id, _, stage = value.removeprefix("rule:").partition("/")
        return rule_id in earlier and any(s.stage == stage for s in rules.by_id(rule_id).stages)
    return False
