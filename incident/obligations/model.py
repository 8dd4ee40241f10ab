"""What the engine decides: obligations, each with its clock and its substitute-notice decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class SubstituteDecision:
    """individual | replace | complement | not_required, the means, and why."""

    decision: str
    means: tuple[str, ...]
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "means": list(self.means), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Obligation:
    rule_id: str
    regime: str
    recipient: str
    recipient_name: str
    stage: str
    jurisdiction: str  # the authority's jurisdiction (its time zone and calendar count)
    persons: int
    reason: str
    citation_article: str
    citation_url: str
    clock_start_kind: str
    clock_start: datetime | None
    due: datetime | None  # None: no fixed time in the law, or the clock has not started
    target: datetime | None  # the organisation's own target where the law names no time
    deadline: str  # the deadline as the law words it
    clock_note: str
    time_zone: str
    content_items: tuple[str, ...]
    forbidden_items: tuple[str, ...]
    substitute: SubstituteDecision | None
    law_enforcement_delay: str  # allowed | not_allowed | national_security_only
    verify: str = ""  # what a lawyer should check against the official text; "" = checked

    @property
    def key(self) -> str:
        """Stable identity across recomputations: rule, stage and authority jurisdiction."""
        return f"{self.rule_id}/{self.stage}/{self.jurisdiction or '-'}"

    @property
    def citation(self) -> str:
        return f"{self.citation_article} — {self.citation_url}"

    @property
    def when(self) -> datetime | None:
        """The instant that matters: the legal due time, else the organisation's target."""
        return self.due or self.target

    def to_json(self) -> dict[str, Any]:
        return shared_json(self) | {
            "citation_article": self.citation_article,
            "citation_url": self.citation_url,
            "substitute_notice": self.substitute.to_json() if self.substitute else None,
            "verify": self.verify,
        }


# Fields an assessed Obligation and a stored ObligationRecord both print, in this order.
SHARED_JSON_FIELDS = (
    "key",
    "regime",
    "recipient",
    "recipient_name",
    "stage",
    "jurisdiction",
    "persons",
    "due",
    "target",
    "clock_start",
    "clock_start_kind",
    "deadline",
    "clock_note",
    "time_zone",
    "reason",
    "citation",
    "content_items",
    "forbidden_items",
    "law_enforcement_delay",
    "rule_id",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, frozenset, set)):
        return list(value)
    return value


def shared_json(obj: Any) -> dict[str, Any]:
    return {name: _jsonable(getattr(obj, name)) for name in SHARED_JSON_FIELDS}
