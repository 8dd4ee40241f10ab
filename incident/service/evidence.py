"""Evidence pack of one incident: who was told what, when, and through which channel.

`export_evidence` writes, under `out/evidence/<incident>/` (or a folder given):

    notices.csv        one row per notice and delivery attempt (a notice never tried: one row):
                       addressee kind and id, jurisdiction, final status, channel, reason, the
                       attempt's key, channel, status, tries, sent_at, error, and its last receipt
    events.csv         every delivery event (each state, when, who said so)
    obligations.csv    each obligation, due, met_at, status, first notice sent for its recipient
    public/, reports/  copies of the announcement versions and regulator reports, as listed in
                       the channels' manifests, with their sha256 (files.csv)
    summary.pdf        counts per jurisdiction x channel x status, the timeline against each
                       deadline
    manifest.json      the sha256 of every file above, and the audit chain's head (seq and
                       hash, incident.service.audit) when the pack was made: `breachnotice
                       audit verify --head HASH` later proves no audit row up to it changed

The pack is evidence of process, not a copy of the directory: it NEVER holds contact details.
Addressees appear by id only (person id, "public", authority id); free text that came back from
providers (errors, receipt details) is scrubbed of email addresses and phone numbers. Contact
details stay in the system of record.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.safe_files import inside, write_csv
from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import (
    AffectedPerson,
    DeliveryAttempt,
    DeliveryEvent,
    Incident,
    Notice,
    RegulatorReport,
)
from incident.errors import InvalidInput, NotFound
from incident.log import _scrub as scrub_contacts
from incident.service.audit import chain_head, seal_pending
from incident.service.obligations_met import PUBLIC_RECIPIENTS

NOTICE_COLUMNS = (
    "notice_id",
    "notice_version",
    "addressee_kind",
    "addressee_id",
    "recipient_id",
    "jurisdiction",
    "notice_status",
    "notice_channel",
    "reason",
    "notice_created_at",
    "attempt_key",
    "attempt_channel",
    "attempt_status",
    "tries",
    "claimed_at",
    "sent_at",
    "error",
    "last_receipt",
    "last_receipt_at",
    "last_receipt_source",
)
EVENT_COLUMNS = (
    "idempotency_key",
    "addressee_kind",
    "addressee_id",
    "channel",
    "status",
    "source",
    "at",
    "detail",
)
OBLIGATION_COLUMNS = (
    "key",
    "regime",
    "recipient",
    "stage",
    "jurisdiction",
    "persons",
    "due",
    "met_at",
    "status",
    "first_notice_sent_at",
    "on_time",
    "citation",
)


@dataclass(frozen=True, slots=True)
class EvidencePack:
    folder: Path
    files: dict[str, str]  # relative path -> sha256
    counts: dict[tuple[str, str, str], int]  # (jurisdiction, channel, status) -> notices


@dataclass
class _Records:
    incident: Incident
    notices: list[Notice]
    attempts: list[DeliveryAttempt]
    events: list[DeliveryEvent]
    places: dict[str, str]  # person id -> jurisdiction
    obligations: list[ObligationRecord]
    reports: dict[str, set[tuple[str, str]]]  # obligation key -> (kind, id) of its notices


def export_evidence(
    engine: Engine, incident_id: str, out: Path, *, public_root: Path, reports_root: Path
) -> EvidencePack:
    rec = _load(engine, incident_id)
    out.mkdir(parents=True, exist_ok=True)
    rows = notice_rows(rec)
    _write_csv(out / "notices.csv", NOTICE_COLUMNS, rows)
    _write_csv(out / "events.csv", EVENT_COLUMNS, _event_rows(rec))
    timeline = _obligation_rows(rec)
    _write_csv(out / "obligations.csv", OBLIGATION_COLUMNS, timeline)
    copied = _copy_published(inside(public_root, "notices", incident_id), out / "public")
    copied += _copy_published(inside(reports_root, incident_id), out / "reports")
    _write_csv(out / "files.csv", ("file", "sha256"), copied)
    counts = final_counts(rec)
    (out / "summary.pdf").write_bytes(summary_pdf(rec.incident, counts, timeline, len(copied)))
    files = {
        p.relative_to(out).as_posix(): _sha256(p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and p != out / "manifest.json"
    }
    seal_pending(engine)
    head = chain_head(engine)
    manifest = {
        "incident": incident_id,
        "files": files,
        "audit_chain": {"seq": head.seq, "head": head.hash},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return EvidencePack(out, files, counts)


def _load(engine: Engine, incident_id: str) -> _Records:
    with Session(engine) as s:
        incident = s.get(Incident, incident_id)
        if incident is None:
            raise NotFound("incident", incident_id)
        notices = s.exec(
            select(Notice).where(Notice.incident_id == incident_id).order_by(col(Notice.id))
        ).all()
        attempts = s.exec(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.incident_id == incident_id)
            .order_by(col(DeliveryAttempt.claimed_at))
        ).all()
        keys = [a.idempotency_key for a in attempts]
        events = [
            e
            for chunk in _chunks(keys, 500)
            for e in s.exec(
                select(DeliveryEvent).where(col(DeliveryEvent.idempotency_key).in_(chunk))
            ).all()
        ]
        places = s.exec(
            select(AffectedPerson.person_id, AffectedPerson.jurisdiction).where(
                AffectedPerson.incident_id == incident_id
            )
        ).all()
        obligations = s.exec(
            select(ObligationRecord)
            .where(
                ObligationRecord.incident_id == incident_id,
                col(ObligationRecord.superseded_at).is_(None),
            )
            .order_by(col(ObligationRecord.id))
        ).all()
        filed = s.exec(
            select(RegulatorReport.obligation_key, Notice.addressee_kind, Notice.addressee_id)
            .join(Notice, col(Notice.id) == col(RegulatorReport.notice_id))
            .where(RegulatorReport.incident_id == incident_id)
        ).all()
    reports: dict[str, set[tuple[str, str]]] = {}
    for key, kind, addressee in filed:
        reports.setdefault(key, set()).add((kind, addressee))
    events.sort(key=lambda e: (e.at, e.id or 0))
    return _Records(
        incident, list(notices), list(attempts), events, dict(places), list(obligations), reports
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _jurisdiction(rec: _Records, kind: str, addressee_id: str) -> str:
    return rec.places.get(addressee_id, "-") if kind == "person" else "-"


def notice_rows(rec: _Records) -> list[dict[str, Any]]:
    by_notice: dict[tuple[str, str, int], list[DeliveryAttempt]] = {}
    for a in rec.attempts:
        by_notice.setdefault((a.addressee_kind, a.addressee_id, a.notice_version), []).append(a)
    last: dict[str, DeliveryEvent] = {e.idempotency_key: e for e in rec.events}
    rows = []
    for n in rec.notices:
        base = {
            "notice_id": n.id,
            "notice_version": n.version,
            "addressee_kind": n.addressee_kind,
            "addressee_id": n.addressee_id,
            "recipient_id": n.recipient_id or "",
            "jurisdiction": _jurisdiction(rec, n.addressee_kind, n.addressee_id),
            "notice_status": n.status,
            "notice_channel": n.channel or "",
            "reason": scrub_contacts(n.reason or ""),
            "notice_created_at": _iso(n.created_at),
        }
        attempts = by_notice.get((n.addressee_kind, n.addressee_id, n.version), [])
        rows += [base | _attempt_cells(a, last.get(a.idempotency_key)) for a in attempts]
        if not attempts:
            rows.append(base)
    return rows


def _attempt_cells(a: DeliveryAttempt, receipt: DeliveryEvent | None) -> dict[str, Any]:
    return {
        "attempt_key": a.idempotency_key,
        "attempt_channel": a.channel,
        "attempt_status": a.status,
        "tries": a.tries,
        "claimed_at": _iso(a.claimed_at),
        "sent_at": _iso(a.sent_at),
        "error": scrub_contacts(a.error or ""),
        "last_receipt": receipt.status if receipt else "",
        "last_receipt_at": _iso(receipt.at) if receipt else "",
        "last_receipt_source": receipt.source if receipt else "",
    }


def _event_rows(rec: _Records) -> list[dict[str, Any]]:
    attempts = {a.idempotency_key: a for a in rec.attempts}
    rows = []
    for e in rec.events:
        a = attempts[e.idempotency_key]
        detail = json.dumps(e.detail, sort_keys=True, ensure_ascii=False)
        rows.append(
            {
                "idempotency_key": e.idempotency_key,
                "addressee_kind": a.addressee_kind,
                "addressee_id": a.addressee_id,
                "channel": a.channel,
                "status": e.status,
                "source": e.source,
                "at": _iso(e.at),
                "detail": scrub_contacts(detail),
            }
        )
    return rows


def _obligation_rows(rec: _Records) -> list[dict[str, Any]]:
    """Each obligation against the first notice sent for it: to a person of its jurisdiction
    (individuals), the report filed for it (an authority, the credit bureaus, a controller), or
    the public announcement (public, media)."""
    rows = []
    for ob in rec.obligations:
        sent = _first_sent(rec, ob)
        on_time = "" if ob.due is None or sent is None else ("yes" if sent <= ob.due else "no")
        rows.append(
            {
                "key": ob.key,
                "regime": ob.regime,
                "recipient": ob.recipient,
                "stage": ob.stage,
                "jurisdiction": ob.jurisdiction,
                "persons": ob.persons,
                "due": _iso(ob.due),
                "met_at": _iso(ob.met_at),
                "status": ob.status,
                "first_notice_sent_at": _iso(sent),
                "on_time": on_time,
                "citation": ob.citation,
            }
        )
    return rows


def _first_sent(rec: _Records, ob: ObligationRecord) -> datetime | None:
    def fits(a: DeliveryAttempt) -> bool:
        if ob.recipient == "individuals":
            where = rec.places.get(a.addressee_id, "")
            place = ob.jurisdiction
            return a.addressee_kind == "person" and (
                not place or where == place or where.startswith(place + "-")
            )
        if ob.recipient in PUBLIC_RECIPIENTS:
            return a.addressee_kind == "public"
        # Authorities, credit bureaus, a controller: the report filed for that obligation.
        return (a.addressee_kind, a.addressee_id) in rec.reports.get(ob.key, set())

    times = [a.sent_at for a in rec.attempts if a.sent_at is not None and fits(a)]
    return min(times, default=None)


def final_counts(rec: _Records) -> dict[tuple[str, str, str], int]:
    """Notices of the incident's current version by (jurisdiction, channel, final status)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for n in rec.notices:
        if n.version == rec.incident.notice_version:
            where = _jurisdiction(rec, n.addressee_kind, n.addressee_id)
            counts[(where, n.channel or "-", n.status)] += 1
    return dict(sorted(counts.items()))


def summary_pdf(
    incident: Incident,
    counts: dict[tuple[str, str, str], int],
    timeline: Sequence[dict[str, Any]],
    published: int,
) -> bytes:
    lines = [
        f"Evidence pack: incident {incident.id}",
        f"Aware at: {_iso(incident.aware_at)}",
        f"Notice version: {incident.notice_version}",
        "",
        "Notices per jurisdiction x channel x status",
        "",
    ]
    lines += [f"{j}  {c}  {s}: {n}" for (j, c, s), n in counts.items()]
    lines += [
        "",
        f"Total notices: {sum(counts.values())}",
        "",
        "Timeline against each deadline",
        "",
    ]
    for row in timeline:
        lines += [
            f"{row['regime']} {row['recipient']} {row['jurisdiction'] or '-'} ({row['stage']})",
            f"    due {row['due'] or '-'}   first sent {row['first_notice_sent_at'] or '-'}",
            f"    met {row['met_at'] or '-'}   status {row['status']}   "
            f"on time: {row['on_time'] or '-'}",
        ]
    lines += ["", f"Published announcement and report files copied: {published}"]
    return _pdf(lines)


def _pdf(lines: Sequence[str]) -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True)
    y = A4[1] - 50
    for line in lines:
        for piece in [line[i : i + 110] for i in range(0, max(len(line), 1), 110)]:
            if y < 50:
                canvas.showPage()
                y = A4[1] - 50
            canvas.setFont("Helvetica", 9)
            canvas.drawString(40, y, piece)
            y -= 12
    canvas.save()
    return buf.getvalue()


def _copy_published(source: Path, dest: Path) -> list[dict[str, str]]:
    """Copy every file a channel's manifest lists (and the manifest itself), with its sha256."""
    manifest = source / "manifest.json"
    if not manifest.is_file():
        return []
    data = json.loads(manifest.read_text(encoding="utf-8"))
    names = ["manifest.json"]
    for v in data.get("versions", []):  # announcement: v<n>/<file>
        names += [f"v{v['version']}/{name}" for name in v.get("files", {})]
    for f in data.get("filed", []):  # regulator: <name>.json / .pdf
        names += [f"{f['name']}.{ext}" for ext in f.get("sha256", {})]
    copied = []
    for name in names:
        try:  # a manifest is a file on disk: its names stay inside their folders
            src, target = inside(source, name), inside(dest, name)
        except ValueError as exc:
            raise InvalidInput(str(manifest), name, "leads out of its folder") from exc
        if src.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            copied.append({"file": f"{dest.name}/{name}", "sha256": _sha256(src.read_bytes())})
    return copied


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:  # cells escaped: no formulas
        write_csv(fh, columns, ([row.get(c, "") for c in columns] for row in rows))


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
