"""Regulator reports: one per authority obligation, in the structure that authority asks for.

`build_report` is pure: the incident, the obligation and what else is known in, a `Report` out:
the JSON document (checked against `config/report_schemas/<kind>.json`) and the content items
still missing. An item is taken from what an operator gave (`report_item` rows), else derived
from the incident record; what neither holds is missing and blocks submission, by name.

Kinds: GDPR Art. 33(3) (and UK GDPR), the CAC incident report, US state attorney-general
notices, the HHS breach report, NIS2 early warning / notification / final report, the notice to
the nationwide consumer reporting agencies (`credit_bureau`, addressed to each agency of
`config/credit_bureaus.toml`), and a generic report from the rule's `content_items` for every
other authority (the DFS portal filings of 23 NYCRR 500.17 among them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import Incident
from incident.service.report_notices import (
    NoticesTold,
    content_of_notices,
    distribution_of_notices,
    timing_of_notices,
)
from incident.settings import config_dir

SCHEMA_VERSION = 1
FINAL_STAGES = frozenset({"final_report", "summary"})
# What each NIS2 stage must say (Art. 23(4)(a), (b), (d)); the rule lists them all.
NIS2_STAGE_ITEMS = {
    "early_warning": ("suspected_malicious_cause", "possible_cross_border_impact"),
    "notification": ("initial_assessment", "severity_and_impact", "indicators_of_compromise"),
    "final_report": ("detailed_description", "severity_and_impact", "root_cause",
                     "mitigation_measures", "cross_border_impact"),
}  # fmt: skip
# The HHS breach portal's fields behind the rule's one item `hhs_breach_report_form`.
HHS_FIELDS = ("covered_entity_contact", "breach_dates", "discovery_date", "individuals_affected",
              "type_of_breach", "location_of_breached_information", "type_of_phi_involved",
              "brief_description", "actions_taken_in_response")  # fmt: skip
# What every credit-bureau report says, whatever the state's rule lists (the count of residents
# too: the agencies size their response by it).
CREDIT_BUREAU_ITEMS = ("timing_of_notices", "distribution_of_notices", "content_of_notices",
                       "approximate_number_affected")  # fmt: skip
# New York rules of the `us-ny` regime that are not GBL 899-aa notices: the DFS portal filings of
# 23 NYCRR 500.17 (cybersecurity incident; extortion payment) have the portal's own fields.
DFS_PORTAL_RULES = frozenset({"us-ny-dfs", "us-ny-dfs-extortion"})
# Report kinds addressed to named organisations (the document lists them under `addressees`).
ADDRESSED_KINDS = frozenset({"credit_bureau", "controller"})


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What a report is built from besides the incident and the obligation."""

    persons: int  # persons the obligation covers
    jurisdictions: tuple[str, ...]  # every jurisdiction with affected persons
    given: Mapping[str, str] = field(default_factory=dict)  # operator-given items
    now: datetime | None = None
    told: NoticesTold | None = None  # the person notices of the obligation's jurisdiction
    addressees: tuple[dict[str, str], ...] = ()  # credit bureaus, the controller


@dataclass(frozen=True, slots=True)
class Report:
    kind: str
    document: dict[str, Any]
    missing: tuple[str, ...]
    schema_errors: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False, sort_keys=False)


def report_kind(ob: ObligationRecord) -> str:
    if ob.recipient == "credit_bureaus":
        return "credit_bureau"
    if ob.recipient == "controller":
        return "controller"
    if ob.regime in ("gdpr", "uk-gdpr"):
        return "gdpr_art33"
    if ob.regime == "nis2":
        return f"nis2_{ob.stage}" if ob.stage in NIS2_STAGE_ITEMS else "generic"
    if ob.regime == "cac":
        return "cac"
    if ob.regime == "hipaa":
        return "hhs"
    if ob.regime.startswith("us-") and ob.rule_id not in DFS_PORTAL_RULES:
        return "us_state_ag"
    return "generic"


def required_items(ob: ObligationRecord) -> tuple[str, ...]:
    """The rule's content items this report must contain (NIS2: those of its stage)."""
    items = tuple(ob.content_items)
    if ob.regime == "nis2" and ob.stage in NIS2_STAGE_ITEMS:
        return tuple(i for i in NIS2_STAGE_ITEMS[ob.stage] if i in items)
    if report_kind(ob) == "credit_bureau":
        return items + tuple(i for i in CREDIT_BUREAU_ITEMS if i not in items)
    if report_kind(ob) == "hhs":
        return tuple(i for i in items if i != "hhs_breach_report_form") + tuple(
            f"hhs_breach_report_form.{f}" for f in HHS_FIELDS
        )
    return items


def build_report(
    incident: Incident,
    ob: ObligationRecord,
    facts: ReportFacts,
    *,
    phase: str,
    version: int,
    supersedes: str | None,
) -> Report:
    kind = report_kind(ob)
    items: dict[str, Any] = {}
    missing: list[str] = []
    for item in required_items(ob):
        value = item_value(item, incident, ob, facts)
        if value in (None, "", [], {}):
            missing.append(item)
        else:
            items[item] = value
    document: dict[str, Any] = {
        "report_kind": kind,
        "schema_version": SCHEMA_VERSION,
        "incident_ref": incident.id,
        "title": incident.title,
        "authority": {"name": ob.recipient_name, "jurisdiction": ob.jurisdiction or None},
        "obligation": {
            "key": ob.key,
            "regime": ob.regime,
            "stage": ob.stage,
            "citation": ob.citation,
            "due": ob.due.isoformat() if ob.due else None,
        },
        "phase": phase,
        "version": version,
        "supersedes": supersedes,
        "generated_at": (facts.now or datetime.now(ob.computed_at.tzinfo)).isoformat(),
        "items": items,
    }
    if kind in ADDRESSED_KINDS:
        document["addressees"] = list(facts.addressees)
    errors = tuple(
        f"{'/'.join(map(str, e.absolute_path)) or '-'}: {e.message}"
        for e in _validator(kind).iter_errors(document)
    )
    return Report(kind, document, tuple(missing), errors)


@lru_cache(maxsize=16)
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    path = schemas_dir() / f"{kind}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schemas_dir() -> Path:
    return config_dir() / "report_schemas"


def _en(texts: Mapping[str, str]) -> str:
    return texts.get("en", "").strip()


def _measures(inc: Incident) -> str:
    return "\n\n".join(t for t in (_en(inc.measures_taken), _en(inc.measures_planned)) if t)


def _contact(inc: Incident) -> dict[str, str]:
    return {k: v for k, v in inc.contact.items() if v}


def _dates(inc: Incident) -> dict[str, str]:
    found = {"occurred_at": inc.occurred_at, "discovered_at": inc.discovered_at}
    found["aware_at"] = inc.aware_at
    return {k: v.isoformat() for k, v in found.items() if v is not None}


def _cross_border(facts: ReportFacts) -> str:
    countries = sorted({j.split("-")[0] for j in facts.jurisdictions})
    if len(countries) > 1:
        return f"yes: persons affected in {', '.join(countries)}"
    return f"no: persons affected in {countries[0]} only" if countries else ""


def _late_reason(ob: ObligationRecord, facts: ReportFacts) -> str | None:
    if ob.due is None or facts.now is None or facts.now <= ob.due:
        return "not applicable: filed within the deadline"
    return None  # late: only an operator can say why


Derive = Callable[[Incident, ObligationRecord, ReportFacts], Any]
_DESCRIPTION: Derive = lambda inc, ob, f: _en(inc.description)  # noqa: E731
_IMPACT: Derive = lambda inc, ob, f: _en(inc.impact)  # noqa: E731
_MEASURES: Derive = lambda inc, ob, f: _measures(inc)  # noqa: E731
_CONTACT: Derive = lambda inc, ob, f: _contact(inc)  # noqa: E731
_CATEGORIES: Derive = lambda inc, ob, f: sorted(inc.categories)  # noqa: E731
_PERSONS: Derive = lambda inc, ob, f: f.persons  # noqa: E731
_DATES: Derive = lambda inc, ob, f: _dates(inc)  # noqa: E731

# Items the incident record answers. Anything else comes from an operator or is missing.
DERIVED: dict[str, Derive] = {
    **dict.fromkeys(
        (
            "nature_of_breach",
            "facts_of_breach",
            "overview",
            "description_of_breach",
            "detailed_description",
            "general_description_of_breach",
            "synopsis_of_events",
            "nature_scope_and_timing",
            "basic_facts_of_incident",
            "initial_assessment",
            "hhs_breach_report_form.brief_description",
            "description_of_the_breach",
        ),
        _DESCRIPTION,
    ),
    **dict.fromkeys(
        (
            "likely_consequences",
            "possible_harm",
            "potential_harm",
            "secondary_harm",
            "risks",
            "possible_impact",
            "material_impact_or_reasonably_likely_impact",
        ),
        _IMPACT,
    ),
    **dict.fromkeys(
        (
            "measures_taken_or_proposed",
            "remedial_measures_taken",
            "measures_taken_and_effect",
            "steps_taken",
            "mitigation_measures",
            "handling_and_measures",
            "remedial_actions",
            "measures_taken_or_planned",
            "hhs_breach_report_form.actions_taken_in_response",
        ),
        _MEASURES,
    ),
    **dict.fromkeys(
        (
            "dpo_or_contact_point",
            "handler_contact",
            "entity_identity_and_contact",
            "name_and_contact_of_business",
            "contact_information",
            "business_contact_information",
            "hhs_breach_report_form.covered_entity_contact",
            "processor_contact",
        ),
        _CONTACT,
    ),
    **dict.fromkeys(
        (
            "data_items",
            "categories_of_personal_information",
            "types_of_personal_information",
            "kinds_of_information",
            "nature_of_affected_data",
            "types_of_information",
            "description_of_information",
            "personal_information_involved",
            "hhs_breach_report_form.type_of_phi_involved",
        ),
        _CATEGORIES,
    ),
    **dict.fromkeys(
        (
            "number_of_persons",
            "persons_affected",
            "number_of_residents_affected",
            "approximate_number_affected",
            "number_of_texans_affected",
            "number_of_floridians_affected",
            "number_of_illinois_residents_affected",
            "hhs_breach_report_form.individuals_affected",
        ),
        _PERSONS,
    ),
    **dict.fromkeys(
        (
            "date_or_period",
            "breach_date_or_range",
            "date_or_range_of_breach",
            "hhs_breach_report_form.breach_dates",
        ),
        _DATES,
    ),
    "hhs_breach_report_form.discovery_date": lambda inc, ob, f: (
        (inc.discovered_at or inc.aware_at).date().isoformat()
    ),
    "severity_and_impact": lambda inc, ob, f: f"{inc.severity}: {_en(inc.impact)}",
    "categories_and_approximate_number_of_data_subjects": lambda inc, ob, f: {
        "categories": ["customers and users of the service"],
        "approximate_number": f.persons,
    },
    # Art. 33(3)(a) asks for an approximate number of records: one per person and category.
    "categories_and_approximate_number_of_records": lambda inc, ob, f: {
        "categories": sorted(inc.categories),
        "approximate_number": f.persons * max(1, len(inc.categories)),
    },
    "suspected_malicious_cause": lambda inc, ob, f: (
        None if "malicious" not in inc.flags else ("yes" if inc.flags["malicious"] else "no")
    ),
    "possible_cross_border_impact": lambda inc, ob, f: _cross_border(f),
    "cross_border_impact": lambda inc, ob, f: _cross_border(f),
    "reasons_for_delay_if_late": lambda inc, ob, f: _late_reason(ob, f),
    "timing_of_notices": lambda inc, ob, f: timing_of_notices(f.told),
    "distribution_of_notices": lambda inc, ob, f: distribution_of_notices(f.told),
    "content_of_notices": lambda inc, ob, f: content_of_notices(inc),
    "processor_aware_at": lambda inc, ob, f: inc.aware_at.isoformat(),
}


def item_value(item: str, inc: Incident, ob: ObligationRecord, facts: ReportFacts) -> Any:
    given = facts.given.get(item)
    if given and given.strip():
        return given.strip()
    derive = DERIVED.get(item)
    return derive(inc, ob, facts) if derive is not None else None
