"""Tables of the obligations engine: computed obligations (with history) and incident clocks.

An obligation row is never updated in place when the facts change: the open set is marked
`superseded_at` and a new set is written, so the history of what was owed, and when it was
known, stays in the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from incident.adapters.tables import UtcDateTime, utcnow
from incident.obligations.model import shared_json


def _instant(*, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=True, index=index))


def _required_instant() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ObligationRecord(SQLModel, table=True):
    """One obligation of one incident, as computed at `computed_at` from the facts then known."""

    __tablename__ = "obligation"
    __table_args__ = (Index("ix_obligation_incident_open", "incident_id", "superseded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id")
    key: str  # rule/stage/jurisdiction: the same obligation across recomputations
    rule_id: str
    regime: str
    recipient: str
    recipient_name: str
    stage: str
    jurisdiction: str
    persons: int
    reason: str
    citation: str
    deadline: str
    clock_note: str
    time_zone: str
    clock_start_kind: str
    clock_start: datetime | None = _instant()
    due: datetime | None = _instant(index=True)
    target: datetime | None = _instant()
    content_items: list[str] = _json_list()
    forbidden_items: list[str] = _json_list()
    substitute_notice: dict[str, Any] = _json()  # {} where the recipient is not individuals
    law_enforcement_delay: str
    status: str = "open"  # open | met
    met_at: datetime | None = _instant()
    facts_hash: str  # facts + rules fingerprint that produced this set
    computed_at: datetime = _required_instant()
    superseded_at: datetime | None = _instant()

    def to_json(self) -> dict[str, Any]:
        return shared_json(self) | {
            "substitute_notice": self.substitute_notice or None,
            "status": self.status,
            "computed_at": self.computed_at.isoformat(),
        }


class IncidentClock(SQLModel, table=True):
    """Instants that start or pause clocks, recorded as the investigation learns them.

    Names: determined_at, material_at, assessed_at, handled_at, law_enforcement_delay_start,
    law_enforcement_delay_end. (aware_at and discovered_at live on the incident itself.)
    """

    __tablename__ = "incident_clock"

    incident_id: str = Field(foreign_key="incident.id", primary_key=True)
    name: str = Field(primary_key=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    national_security: bool = False  # law_enforcement_delay_start: a US AG finding (SEC 8-K)
    recorded_at: datetime = _required_instant()
