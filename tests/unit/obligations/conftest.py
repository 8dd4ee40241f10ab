"""Fixtures for the obligations engine: the shipped rules and a facts builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from incident.obligations import IncidentFacts, Obligation, Rules, assess, load_rules, parse_facts

BASE_FACTS: dict[str, Any] = {
    "aware_at": "2026-03-06T16:00:00+01:00",
    "categories": ["contact"],
    "severity": "medium",
    "affected": {},
    "flags": {},
}

Assess = Callable[..., dict[str, Obligation]]


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules()


@pytest.fixture
def make_facts(rules: Rules) -> Callable[..., IncidentFacts]:
    def build(**overrides: Any) -> IncidentFacts:
        return parse_facts({**BASE_FACTS, **overrides}, rules.flags)

    return build


@pytest.fixture
def obligations(rules: Rules, make_facts: Callable[..., IncidentFacts]) -> Assess:
    """Assess facts (BASE_FACTS with overrides) into {key: obligation}, key = rule/stage/place."""

    def run(**overrides: Any) -> dict[str, Obligation]:
        return {ob.key: ob for ob in assess(make_facts(**overrides), rules)}

    return run


def regimes(found: dict[str, Obligation]) -> set[str]:
    return {ob.regime for ob in found.values()}


def keys_of(found: dict[str, Obligation], rule_id: str) -> set[str]:
    return {k for k in found if k.startswith(f"{rule_id}/")}
