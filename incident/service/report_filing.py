"""Filed notices and their reports: one notice (addressee `authority`, channel `regulator`) per
open obligation to an authority, to the consumer reporting agencies or to a controller whose
clock runs, each with a `regulator_report` version row. A credit-bureau report is one document
addressed to every nationwide agency (`config/credit_bureaus.toml`); a processor's notice is
addressed to the controller the incident names.

A report lacking a content item is blocked: its notice stays pending with the items named in
its reason, an AuditEvent records it, and the regulator channel refuses to file it ("try
later") until an operator gives the items (`breachnotice reports set`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import (
    AffectedPerson,
    AuditEvent,
    Incident,
    Notice,
    RegulatorReport,
    ReportItem,
)
from incident.domain.model import AddresseeKind, NoticeStatus
from incident.service.addressees import credit_bureaus
from incident.service.job_outbox import enqueue_notices
from incident.service.obligations import open_obligations
from incident.service.report_notices import notices_told
from incident.service.reports import (
    FINAL_STAGES,
    Report,
    ReportFacts,
    build_report,
    report_kind,
    required_items,
)

# Recipients whose notice is a report filed through the regulator channel.
FILED_RECIPIENTS = ("authority", "credit_bureaus", "controller")


def chain_of(ob: ObligationRecord) -> str:
    """The versions of one report to one authority: rule and jurisdiction."""
    return f"{ob.rule_id}-{ob.jurisdiction or 'all'}"


def report_facts(
    session: Session, incident: Incident, ob: ObligationRecord, now: datetime
) -> ReportFacts:
    incident_id = incident.id
    places: list[str] = list(
        session.exec(
            select(AffectedPerson.jurisdiction)
            .distinct()
            .where(AffectedPerson.incident_id == incident_id)
        ).all()
    )
    given = session.exec(select(ReportItem).where(ReportItem.incident_id == incident_id)).all()
    return ReportFacts(
        persons=ob.persons,
        jurisdictions=tuple(sorted(places)),
        given={g.item: g.text for g in given},
        now=now,
        told=notices_told(session, incident, ob.jurisdiction),
        addressees=addressees_of(incident, ob),
    )


def addressees_of(incident: Incident, ob: ObligationRecord) -> tuple[dict[str, str], ...]:
    if ob.recipient == "credit_bureaus":
        return tuple(agency.to_json() for agency in credit_bureaus())
    if ob.recipient == "controller" and incident.controller:
        return ({"id": "controller", **{k: v for k, v in incident.controller.items() if v}},)
    return ()


def blocked_reason(report: Report) -> str | None:
    if report.missing:
        return f"blocked: report incomplete, missing: {', '.join(report.missing)}"
    if report.schema_errors:
        return f"blocked: report does not match its schema: {report.schema_errors[0]}"
    return None


def _authority_notices(session: Session, incident: Incident) -> set[str]:
    rows = session.exec(
        select(Notice.addressee_id).where(
            Notice.incident_id == incident.id,
            Notice.addressee_kind == AddresseeKind.AUTHORITY.value,
            Notice.version == incident.notice_version,
        )
    ).all()
    return set(rows)


def prepare_reports(session: Session, incident_id: str, *, now: datetime) -> list[RegulatorReport]:
    """Create the authority notices and report versions that do not exist yet."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return []
    have = _authority_notices(session, incident)
    made = []
    for ob in open_obligations(session, incident_id=incident_id):
        if ob.recipient not in FILED_RECIPIENTS or ob.status != "open" or ob.clock_start is None:
            continue
        if ob.key not in have:
            made.append(_prepare(session, incident, ob, now))
    return made


def _prepare(
    session: Session, incident: Incident, ob: ObligationRecord, now: datetime
) -> RegulatorReport:
    chain = chain_of(ob)
    earlier = session.exec(
        select(RegulatorReport)
        .where(RegulatorReport.incident_id == incident.id, RegulatorReport.chain == chain)
        .order_by(col(RegulatorReport.version))
    ).all()
    version = len(earlier) + 1
    phase = "final" if ob.stage in FINAL_STAGES else ("follow_up" if earlier else "initial")
    supersedes = earlier[-1].name if earlier else None
    name = f"{chain}/v{version}-{phase}"
    facts = report_facts(session, incident, ob, now)
    report = build_report(incident, ob, facts, phase=phase, version=version, supersedes=supersedes)
    why = blocked_reason(report)
    notice = Notice(
        incident_id=incident.id,
        addressee_kind=AddresseeKind.AUTHORITY.value,
        addressee_id=ob.key,
        version=incident.notice_version,
        status=NoticeStatus.PENDING.value,
        reason=why,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    if why is None:  # a blocked report is queued when an operator gives what it lacks
        enqueue_notices(session, [notice])
    row = RegulatorReport(
        incident_id=incident.id,
        notice_id=notice.id,
        obligation_key=ob.key,
        chain=chain,
        kind=report_kind(ob),
        phase=phase,
        version=version,
        name=name,
        supersedes=supersedes,
        status="blocked" if why else "ready",
        missing=list(report.missing),
        created_at=now,
    )
    session.add(row)
    session.add(
        AuditEvent(
            incident_id=incident.id,
            kind="report_blocked" if why else "report_prepared",
            at=now,
            detail={
                "report": name,
                "obligation": ob.key,
                "citation": ob.citation,
                "missing": list(report.missing),
                "schema_errors": list(report.schema_errors),
            },
        )
    )
    session.flush()
    return row


def report_items(session: Session, incident_id: str) -> list[str]:
    """Every content item the incident's reports ask for (what `reports set` may give)."""
    keys = session.exec(
        select(RegulatorReport.obligation_key).where(RegulatorReport.incident_id == incident_id)
    ).all()
    if not keys:
        return []
    obligations = session.exec(
        select(ObligationRecord).where(
            ObligationRecord.incident_id == incident_id, col(ObligationRecord.key).in_(set(keys))
        )
    ).all()
    return sorted({item for ob in obligations for item in required_items(ob)})


def report_for_notice(session: Session, notice_id: int) -> RegulatorReport | None:
    return session.exec(
        select(RegulatorReport).where(RegulatorReport.notice_id == notice_id)
    ).first()


def refresh_report(
    session: Session, row: RegulatorReport, *, now: datetime
) -> tuple[Report, ObligationRecord] | None:
    """Rebuild a report version from what is known now; record a change of its blocked state."""
    incident = session.get(Incident, row.incident_id)
    ob = session.exec(
        select(ObligationRecord)
        .where(
            ObligationRecord.incident_id == row.incident_id,
            ObligationRecord.key == row.obligation_key,
        )
        .order_by(col(ObligationRecord.id).desc())
    ).first()
    if incident is None or ob is None:
        return None
    facts = report_facts(session, incident, ob, now)
    report = build_report(
        incident, ob, facts, phase=row.phase, version=row.version, supersedes=row.supersedes
    )
    why = blocked_reason(report)
    status = "blocked" if why else "ready"
    if status != row.status or list(report.missing) != row.missing:
        row.status, row.missing = status, list(report.missing)
        session.add(row)
        notice = session.get(Notice, row.notice_id) if row.notice_id else None
        if notice is not None and notice.status == NoticeStatus.PENDING.value:
            notice.reason, notice.updated_at = why, now
            session.add(notice)
        kind = "report_blocked" if why else "report_unblocked"
        detail = {"report": row.name, "missing": list(report.missing)}
        session.add(AuditEvent(incident_id=incident.id, kind=kind, at=now, detail=detail))
    return report, ob
