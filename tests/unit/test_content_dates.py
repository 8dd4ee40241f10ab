"""The sample incident moves in time as one piece, and the content check flags an incident
whose dates contradict each other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident.adapters.tables import Incident
from incident.domain.content import BLOCKING, check_notice_content
from incident.rendering import Renderer
from incident.service.intake import load_incident_file
from incident.service.sample_incident import INSTANTS, shift_sample
from incident.settings import config_dir, templates_dir

SAMPLE = load_incident_file(config_dir() / "examples" / "incident.yaml")
NOW = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
# How each locale of the sample names 18 November, and how it names 5 December.
NAMED = {"en": ("18 November", "5 December"), "nl": ("18 november", "5 december"),
         "de": ("18. November", "5. Dezember"), "fr": ("18 novembre", "5 décembre"),
         "es": ("18 de noviembre", "5 de diciembre"), "ja": ("11月18日", "12月5日"),
         "zh": ("11月18日", "12月5日")}  # fmt: skip


@pytest.fixture(scope="module")
def shifted() -> Any:
    wording = Renderer(templates_dir()).wording
    return shift_sample(SAMPLE, aware_by=NOW - timedelta(hours=2), wording=wording)


def test_every_instant_of_the_sample_moves_by_the_same_whole_days(shifted: Any) -> None:
    moved = {name: getattr(shifted, name) - getattr(SAMPLE, name) for name in INSTANTS}
    assert set(moved.values()) == {timedelta(days=17)}
    assert NOW - timedelta(hours=26) <= shifted.aware_at <= NOW - timedelta(hours=2)


@pytest.mark.parametrize("locale", sorted(NAMED))
def test_the_dates_the_sample_s_texts_mention_move_with_it(shifted: Any, locale: str) -> None:
    before, after = NAMED[locale]
    assert before in SAMPLE.description[locale]
    assert after in shifted.description[locale] and before not in shifted.description[locale]


def test_the_shifted_sample_passes_the_date_check(shifted: Any) -> None:
    found = check_notice_content(shifted, "NL", "en", raised=NOW)
    assert [p for p in found if p.kind == "dates"] == []


def incident(**changes: Any) -> Incident:
    base: dict[str, Any] = dict(
        id="INC-D", title="Accounts read", severity="high", status="raised",
        description={"en": "An attacker read the accounts table."},
        impact={"en": "Phishing is possible."}, measures_taken={"en": "We revoked the key."},
        remedies={"en": "Twelve months of free monitoring."}, categories=["contact"],
        contact={"email": "privacy@example.org"},
        occurred_at=datetime(2026, 3, 5, 15, tzinfo=UTC),
        discovered_at=datetime(2026, 3, 6, 9, tzinfo=UTC),
        aware_at=datetime(2026, 3, 6, 15, tzinfo=UTC),
        created_at=datetime(2026, 3, 6, 16, tzinfo=UTC),
    )  # fmt: skip
    return Incident(**{**base, **changes})


def dates(inc: Incident, **kw: Any) -> list[str]:
    return [p.detail for p in check_notice_content(inc, "NL", "en", **kw) if p.kind == "dates"]


def test_dates_in_order_raise_no_date_problem() -> None:
    assert dates(incident()) == []


def test_an_incident_that_occurred_after_it_was_discovered_is_flagged() -> None:
    found = dates(incident(occurred_at=datetime(2026, 3, 6, 12, tzinfo=UTC)))
    assert len(found) == 1
    assert found[0].startswith("occurred_at 2026-03-06T12:00:00+00:00 is after discovered_at")
    assert "occurred_at <= discovered_at <= aware_at <= raised" in found[0]


def test_awareness_after_the_incident_was_raised_is_flagged() -> None:
    found = dates(incident(), raised=datetime(2026, 3, 6, 14, tzinfo=UTC))
    assert [d.split(":")[0].split()[0] for d in found] == ["aware_at"]
    assert "is after raised 2026-03-06T14:00:00+00:00" in found[0]


def test_the_demo_s_old_contradiction_is_flagged_and_only_warned_about() -> None:
    """Awareness shifted to now, the occurrence to yesterday, the discovery left in November."""
    found = check_notice_content(
        SAMPLE.model_copy(update={"aware_at": NOW - timedelta(hours=2),
                                  "occurred_at": NOW - timedelta(days=1)}),
        "NL", "en", raised=NOW,
    )  # fmt: skip
    problems = [p for p in found if p.kind == "dates"]
    assert [p.detail.split()[0] for p in problems] == ["occurred_at"]
    assert "dates" not in BLOCKING
