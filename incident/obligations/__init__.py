"""The obligations engine: who must be told about a breach, by when, and why.

Pure domain code: `config/obligations.toml` (rules as data) + incident facts in, obligations out.

    rules = load_rules()                       # ConfigError names file, entry and field
    facts = load_facts_file(path, rules.flags) # InvalidInputs names field, value and rule
    for ob in assess(facts, rules): ...
"""

from __future__ import annotations

from incident.obligations.engine import assess
from incident.obligations.facts import (
    IncidentFacts,
    LawEnforcementDelay,
    load_facts_file,
    parse_facts,
)
from incident.obligations.model import Obligation, SubstituteDecision
from incident.obligations.rules import Rules
from incident.obligations.rules_loader import load_rules

__all__ = [
    "IncidentFacts",
    "LawEnforcementDelay",
    "Obligation",
    "Rules",
    "SubstituteDecision",
    "assess",
    "load_facts_file",
    "load_rules",
    "parse_facts",
]
