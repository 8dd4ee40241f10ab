"""Content checks of what an incident says about itself, beside the rules' items: its dates
in the order events happen. Pure; the problems are warnings (`content.BLOCKING` has none of
these kinds): the people who wrote the incident fix it, nothing is held."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# The order in which an incident's instants must come: it happens, someone discovers it, the
# organisation becomes aware of it, then it is raised here.
ORDER = ("occurred_at", "discovered_at", "aware_at", "raised")


def instants(incident: Any, raised: datetime | None) -> list[tuple[str, datetime]]:
    """The incident's known instants in `ORDER` (a stored incident was raised at creation)."""
    raised = raised or getattr(incident, "created_at", None)
    found = [(name, getattr(incident, name, None)) for name in ORDER[:-1]]
    return [(n, v) for n, v in [*found, ("raised", raised)] if v is not None]


def dates_out_of_order(incident: Any, raised: datetime | None = None) -> list[str]:
    """Each pair of the incident's instants that comes in the wrong order, said plainly."""
    known = instants(incident, raised)
    said = []
    for i, (earlier, first) in enumerate(known):
        for later, second in known[i + 1 :]:
            if _utc(first) > _utc(second):
                said.append(
                    f"{earlier} {first.isoformat()} is after {later} {second.isoformat()}: "
                    f"the order is {' <= '.join(n for n, _ in known)}"
                )
    return said


def _utc(value: datetime) -> datetime:
    """Naive instants (SQLite hands them back so) are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
