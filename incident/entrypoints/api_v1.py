"""The HTTP API under /api/v1 (JSON; problems as RFC 9457, see api_problems):

    GET  /api/v1/incidents                    incidents, newest first (limit, offset)   readers
    POST /api/v1/incidents                    raise: the document `incident raise` takes  reporter
    GET  /api/v1/incidents/{id}               status, approvals, counts per channel/state readers
    POST /api/v1/incidents/{id}/approve       the second person's approval                approver
    GET  /api/v1/incidents/{id}/obligations   open obligations with due times             readers
    GET  /api/v1/audit                        audit rows by seq (limit, after)             readers
    GET  /api/v1/audit/verify                 the hash chain's verdict                     admin

Readers are viewer, reporter and approver; admin may call every route. Who raised or approved
is the token's name. Every POST honours `Idempotency-Key`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AuditEvent, Incident, Notice
from incident.domain.incident_spec import parse_incident_spec
from incident.entrypoints.api_auth import Guards
from incident.entrypoints.api_problems import once
from incident.errors import InvalidInput, NotFound
from incident.service.approval import approvals, approve_incident
from incident.service.audit import seal_pending, verify_chain
from incident.service.intake import raise_incident, waiver
from incident.service.tokens import Principal, Role
from incident.settings import Settings

MAX_BODY = 1_000_000
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def _page(items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    more = len(items) > limit
    return {
        "items": items[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


def _document(raw: bytes) -> Any:
    if len(raw) > MAX_BODY:
        raise InvalidInput("body", f"{len(raw)} bytes", f"at most {MAX_BODY} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput("body", "<not shown>", f"a JSON object ({type(exc).__name__})") from None


def _incident_json(engine: Engine, incident_id: str) -> dict[str, Any]:
    with Session(engine) as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("incident", incident_id)
        counts = session.exec(
            select(Notice.addressee_kind, Notice.channel, Notice.status, func.count())
            .where(Notice.incident_id == incident_id, Notice.version == incident.notice_version)
            .group_by(col(Notice.addressee_kind), col(Notice.channel), col(Notice.status))
        ).all()
    return {
        "incident_id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "reported_by": incident.reported_by,
        "notice_version": incident.notice_version,
        "aware_at": incident.aware_at.isoformat(),
        "approvals": [
            {**asdict(a), "at": a.at.isoformat()} for a in approvals(engine, incident_id)
        ],
        "notices": [
            {"addressee": k, "channel": c, "state": s, "count": n} for k, c, s, n in counts
        ],
    }


def api_router(engine: Engine, settings: Settings, guards: Guards) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    # Each route declares who may call it (api_auth.RoleGuard): readers, reporter, approver, admin.
    readers, reporter = Depends(guards.readers()), Depends(guards.allow(Role.REPORTER))
    approver, admin = Depends(guards.allow(Role.APPROVER)), Depends(guards.allow())
    topic = settings.kafka.incidents_topic
    clock = guards.clock

    @router.get("/incidents")
    async def list_incidents(
        _: Principal = readers, limit: Limit = 50, offset: Offset = 0
    ) -> dict[str, Any]:
        def rows() -> list[dict[str, Any]]:
            with Session(engine) as session:
                found = session.exec(
                    select(Incident)
                    .order_by(col(Incident.created_at).desc(), col(Incident.id))
                    .offset(offset)
                    .limit(limit + 1)
                ).all()
            return [
                {
                    "incident_id": i.id,
                    "title": i.title,
                    "severity": i.severity,
                    "status": i.status,
                    "created_at": i.created_at.isoformat(),
                }
                for i in found
            ]

        return _page(await asyncio.to_thread(rows), limit, offset)

    @router.post("/incidents", status_code=201)
    async def raise_(request: Request, who: Principal = reporter) -> JSONResponse:
        spec = parse_incident_spec(_document(await request.body()))

        def act() -> tuple[int, dict[str, Any], str | None]:
            incident_id = raise_incident(
                engine,
                spec,
                topic=topic,
                now=clock(),
                reporter=who.name,
                approval=settings.approval,
            )
            seal_pending(engine)
            waived = waiver(settings.approval, spec.severity.value)
            body = {**_incident_json(engine, incident_id), "approval_waived": waived}
            return 201, body, incident_id

        return await once(request, engine, who, act)

    @router.get("/incidents/{incident_id}")
    async def incident_status(incident_id: str, _: Principal = readers) -> dict[str, Any]:
        return await asyncio.to_thread(_incident_json, engine, incident_id)

    @router.post("/incidents/{incident_id}/approve")
    async def approve(
        incident_id: str, request: Request, who: Principal = approver
    ) -> JSONResponse:
        def act() -> tuple[int, dict[str, Any], str | None]:
            approval = approve_incident(engine, incident_id, by=who.name, topic=topic, now=clock())
            seal_pending(engine)
            return 200, {**asdict(approval), "at": approval.at.isoformat()}, incident_id

        return await once(request, engine, who, act)

    @router.get("/incidents/{incident_id}/obligations")
    async def obligations(
        incident_id: str,
        _: Principal = readers,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        def rows() -> list[dict[str, Any]]:
            with Session(engine) as session:
                if session.get(Incident, incident_id) is None:
                    raise NotFound("incident", incident_id)
                found = session.exec(
                    select(ObligationRecord)
                    .where(
                        ObligationRecord.incident_id == incident_id,
                        col(ObligationRecord.superseded_at).is_(None),
                    )
                    .order_by(col(ObligationRecord.due), col(ObligationRecord.id))
                    .offset(offset)
                    .limit(limit + 1)
                ).all()
            return [
                {
                    "key": o.key,
                    "recipient": o.recipient_name,
                    "jurisdiction": o.jurisdiction,
                    "stage": o.stage,
                    "status": o.status,
                    "citation": o.citation,
                    "due": o.due.isoformat() if o.due else None,
                    "met_at": o.met_at.isoformat() if o.met_at else None,
                }
                for o in found
            ]

        return _page(await asyncio.to_thread(rows), limit, offset)

    @router.get("/audit")
    async def audit_rows(
        _: Principal = readers,
        limit: Limit = 100,
        after: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        def rows() -> list[dict[str, Any]]:
            with Session(engine) as session:
                found = session.exec(
                    select(AuditEvent)
                    .where(col(AuditEvent.seq) > after)
                    .order_by(col(AuditEvent.seq))
                    .limit(limit + 1)
                ).all()
            return [
                {
                    "seq": a.seq,
                    "incident_id": a.incident_id,
                    "kind": a.kind,
                    "at": a.at.isoformat(),
                    "detail": a.detail,
                    "hash": a.hash,
                }
                for a in found
            ]

        items = await asyncio.to_thread(rows)
        more = len(items) > limit
        last = items[limit - 1]["seq"] if more else None
        return {"items": items[:limit], "limit": limit, "next_after": last}

    @router.get("/audit/verify")
    async def audit_verify(_: Principal = admin) -> dict[str, Any]:
        def verdict() -> dict[str, Any]:
            seal_pending(engine)
            return asdict(verify_chain(engine))

        return await asyncio.to_thread(verdict)

    return router
