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
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None

        return {
            "key": self.key,
            "regime": self.regime,
            "recipient": self.recipient,
            "recipient_name": self.recipient_name,
            "stage": self.stage,
            "jurisdiction": self.jurisdiction,
            "persons": self.persons,
            "due": iso(self.due),
            "target": iso(self.target),
            "clock_start": iso(self.clock_start),
            "clock_start_kind": self.clock_start_kind,
            "deadline": self.deadline,
            "clock_note": self.clock_note,
            "time_zone": self.time_zone,
            "reason": self.reason,
            "citation": self.citation,
            "citation_article": self.citation_article,
            "citation_url": self.citation_url,
            "content_items": list(self.content_items),
            "forbidden_items": list(self.forbidden_items),
            "substitute_notice": self.substitute.to_json() if self.substitute else None,
            "law_enforcement_delay": self.law_enforcement_delay,
            "rule_id": self.rule_id,
        }
