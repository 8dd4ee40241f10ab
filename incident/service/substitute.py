"""Substitute and public notice: act on what the obligations engine decided.

The engine records, per individual-notice obligation, a substitute-notice decision (replace,
complement, not_required, individual) with the rule's reason; a `public` obligation (the privacy
policy's announcement) stands on its own. When any of them calls for a public communication,
the incident gets one public notice (addressee `public`, channel `announcement`), and the
grounds (decision, reason, citation, means of every rule) are kept in an AuditEvent.

`replace` only where every individual-notice obligation allows it; otherwise the announcement
complements individual notice, which goes on. Individual notices are never cancelled here: a
rule allowing substitution does not forbid telling people one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AuditEvent, Incident, Notice
from incident.domain.model import AddresseeKind, NoticeStatus
from incident.service.job_outbox import enqueue_notices
from incident.service.obligations import open_obligations, recompute_obligations

PUBLIC_ID = "public"
SUBSTITUTING = frozenset({"replace", "complement"})
SPARING = frozenset({"replace", "not_required"})


@dataclass(frozen=True, slots=True)
class PublicNoticeBasis:
    mode: str  # replace | complement
    grounds: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "grounds": list(self.grounds)}


def _ground(ob: ObligationRecord, decision: str, means: list[str], reason: str) -> dict[str, Any]:
    return {
        "obligation": ob.key,
        "regime": ob.regime,
        "jurisdiction": ob.jurisdiction or None,
        "decision": decision,
        "means": means,
        "reason": reason,
        "citation": ob.citation,
    }


def public_notice_basis(obligations: Sequence[ObligationRecord]) -> PublicNoticeBasis | None:
    """Whether the open obligations call for a public notice, how, and on which grounds."""
    grounds = []
    for ob in obligations:
        sub = ob.substitute_notice or {}
        if ob.recipient == "individuals" and sub.get("decision") in SUBSTITUTING:
            grounds.append(_ground(ob, sub["decision"], list(sub.get("means", [])), sub["reason"]))
        elif ob.recipient == "public":
            grounds.append(_ground(ob, "complement", ["public announcement"], ob.reason))
    if not grounds:
        return None
    # Answering questions is not notice; every other individual obligation must allow it.
    notices = [
        ob
        for ob in obligations
        if ob.recipient == "individuals" and ob.clock_start_kind != "question_received"
    ]
    spared = bool(notices) and all(
        (ob.substitute_notice or {}).get("decision") in SPARING for ob in notices
    )
    return PublicNoticeBasis("replace" if spared else "complement", tuple(grounds))


def public_notice(session: Session, incident: Incident) -> Notice | None:
    return session.exec(
        select(Notice).where(
            Notice.incident_id == incident.id,
            Notice.addressee_kind == AddresseeKind.PUBLIC.value,
            Notice.addressee_id == PUBLIC_ID,
            Notice.version == incident.notice_version,
        )
    ).first()


def ensure_public_notice(
    session: Session, incident_id: str, *, now: datetime, recompute: bool = False
) -> Notice | None:
    """Create the incident's public notice if the obligations call for one and it has none.
    Its job is queued through the outbox in the same transaction (the relay publishes it)."""
    incident = session.get(Incident, incident_id)
    if incident is None or public_notice(session, incident) is not None:
        return None
    if recompute:
        recompute_obligations(session, incident_id, now=now)
    basis = public_notice_basis(open_obligations(session, incident_id=incident_id))
    if basis is None:
        return None
    first = basis.grounds[0]
    notice = Notice(
        incident_id=incident_id,
        addressee_kind=AddresseeKind.PUBLIC.value,
        addressee_id=PUBLIC_ID,
        version=incident.notice_version,
        status=NoticeStatus.PENDING.value,
        reason=f"{basis.mode}: {first['reason']} ({first['citation']})"[:500],
        created_at=now,
    )
    session.add(notice)
    session.add(
        AuditEvent(
            incident_id=incident_id, kind="public_notice_decided", at=now, detail=basis.to_json()
        )
    )
    session.flush()
    enqueue_notices(session, [notice])
    return notice
