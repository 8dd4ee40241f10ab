"""Intake validation: every problem named by field, value and rule."""

from __future__ import annotations

from typing import Any

import pytest

from incident.domain.incident_spec import parse_incident_spec
from incident.errors import InvalidInputs


def valid() -> dict[str, Any]:
    return {
        "title": "Leaked customer table",
        "severity": "high",
        "categories": ["contact"],
        "aware_at": "2026-03-06T16:00:00+01:00",
        "description": "What happened",
        "impact": "Impact",
        "measures_taken": "Done",
        "measures_planned": "Planned",
        "remedies": "Monitoring",
        "scope": {"countries": ["NL", "US-CA"]},
    }


def problems(data: Any) -> dict[str, str]:
    with pytest.raises(InvalidInputs) as caught:
        parse_incident_spec(data)
    return {e.field: e.rule for e in caught.value.errors}


def test_a_complete_incident_is_accepted_and_plain_text_counts_as_english() -> None:
    spec = parse_incident_spec(valid())
    assert spec.description == {"en": "What happened"}
    assert spec.scope.countries == ["NL", "US-CA"]


def test_a_time_without_offset_is_rejected_naming_the_field() -> None:
    assert "UTC offset" in problems({**valid(), "aware_at": "2026-03-06T16:00:00"})["aware_at"]


def test_an_unknown_data_category_is_rejected_with_its_position() -> None:
    found = problems({**valid(), "categories": ["contact", "dna"]})
    assert "categories[1]" in found


def test_an_unknown_country_in_the_scope_is_rejected() -> None:
    found = problems({**valid(), "scope": {"countries": ["XX"]}})
    assert "'XX' is not an ISO 3166 code" in found["scope.countries"]


def test_a_scope_must_say_who_is_affected() -> None:
    assert "needs `people`" in problems({**valid(), "scope": {}})["scope"]


def test_localised_texts_need_english_as_the_fallback() -> None:
    found = problems({**valid(), "impact": {"nl": "Gevolgen"}})
    assert "English" in found["impact"]


def test_missing_fields_and_unknown_fields_are_all_reported_at_once() -> None:
    data = valid()
    del data["remedies"]
    found = problems({**data, "colour": "red", "severity": "huge"})
    assert found["remedies"] == "is required"
    assert {"colour", "severity"} <= set(found)


def test_a_file_that_is_not_a_mapping_is_rejected() -> None:
    assert "(file)" in problems(["not", "a", "mapping"])


def test_the_contact_names_a_dpo_and_a_response_time_within_the_policys_seven_days() -> None:
    spec = parse_incident_spec({**valid(), "contact": {"email": "p@example.org", "dpo": "J. Doe"}})
    assert spec.contact.dpo == "J. Doe" and spec.contact.response_days == 7
    found = problems({**valid(), "contact": {"response_days": 10}})
    assert "contact.response_days" in found


CONTROLLER = {"name": "Shop Example B.V.", "email": "dpo@shop.example", "contact_person": "DPO"}


def test_an_incident_is_the_controllers_unless_it_says_processor() -> None:
    assert parse_incident_spec(valid()).role == "controller"
    spec = parse_incident_spec({**valid(), "role": "processor", "controller": CONTROLLER})
    assert spec.role == "processor" and spec.controller is not None
    assert spec.controller.name == "Shop Example B.V."


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"role": "processor"}, "(file)", "a processor names its controller"),
        ({"controller": CONTROLLER}, "(file)", "for role: processor"),
        ({"role": "owner"}, "role", "'controller' or 'processor'"),
        ({"role": "processor", "controller": {"name": "Shop"}}, "controller", "at least one of"),
        (
            {"role": "processor", "controller": {**CONTROLLER, "email": "nope"}},
            "controller.email",
            "pattern",
        ),
    ],
)
def test_a_processor_without_a_reachable_controller_is_refused(
    extra: dict[str, Any], field: str, words: str
) -> None:
    found = problems({**valid(), **extra})
    assert field in found and words in found[field], found
