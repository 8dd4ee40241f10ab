"""Operations routes: `/readyz` (public) and `/metrics` (Prometheus text format, readers).

    breachnotice_incidents{status}                      incidents by status
    breachnotice_notices{addressee,channel,state}       notices of current versions
    breachnotice_delivery_attempts{channel,status}      delivery attempts
    breachnotice_obligation_margin_seconds{incident,obligation}   open obligations: due - now
    breachnotice_outbox_pending, breachnotice_outbox_lag_seconds  the relay's backlog and age
    breachnotice_audit_unsealed                         audit rows not yet in the hash chain

Breaker states live in each dispatcher process's memory and are not exported here yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from incident.adapters.db import schema_state
from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AuditEvent, DeliveryAttempt, Incident, Notice, Outbox
from incident.entrypoints.api_auth import PUBLIC, Guards
from incident.entrypoints.api_problems import problem
from incident.service.tokens import Principal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _lines(
    name: str, kind: str, help_: str, samples: Iterable[tuple[dict[str, Any], float]]
) -> Iterator[str]:
    yield f"# HELP {name} {help_}"
    yield f"# TYPE {name} {kind}"
    for labels, value in samples:
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        yield f"{name}{{{inner}}} {value}" if inner else f"{name} {value}"


def render_metrics(engine: Engine, now: datetime) -> str:
    with Session(engine) as s:
        incidents = s.exec(select(Incident.status, func.count()).group_by(Incident.status)).all()
        notices = s.exec(
            select(Notice.addressee_kind, Notice.channel, Notice.status, func.count())
            .join(Incident, col(Incident.id) == col(Notice.incident_id))
            .where(col(Notice.version) == col(Incident.notice_version))
            .group_by(col(Notice.addressee_kind), col(Notice.channel), col(Notice.status))
        ).all()
        attempts = s.exec(
            select(DeliveryAttempt.channel, DeliveryAttempt.status, func.count()).group_by(
                DeliveryAttempt.channel, DeliveryAttempt.status
            )
        ).all()
        open_ = s.exec(
            select(ObligationRecord.incident_id, ObligationRecord.key, ObligationRecord.due)
            .where(
                col(ObligationRecord.superseded_at).is_(None),
                ObligationRecord.status == "open",
                col(ObligationRecord.due).is_not(None),
            )
            .limit(5000)
        ).all()
        backlog, oldest = s.exec(
            select(func.count(), func.min(Outbox.created_at)).where(
                col(Outbox.published_at).is_(None)
            )
        ).one()
        unsealed = s.exec(
            select(func.count()).select_from(AuditEvent).where(col(AuditEvent.seq).is_(None))
        ).one()
    lag = 0.0
    if oldest is not None:
        lag = max(0.0, (now - oldest).total_seconds()) if oldest.tzinfo else 0.0
    out: list[str] = []
    out += _lines(
        "breachnotice_incidents",
        "gauge",
        "Incidents by status.",
        (({"status": st}, n) for st, n in incidents),
    )
    out += _lines(
        "breachnotice_notices",
        "gauge",
        "Notices of current versions by state.",
        (({"addressee": k, "channel": c or "", "state": st}, n) for k, c, st, n in notices),
    )
    out += _lines(
        "breachnotice_delivery_attempts",
        "gauge",
        "Delivery attempts by status.",
        (({"channel": c, "status": st}, n) for c, st, n in attempts),
    )
    out += _lines(
        "breachnotice_obligation_margin_seconds",
        "gauge",
        "Seconds until an open obligation is due (negative: overdue).",
        (
            ({"incident": i, "obligation": k}, round((due - now).total_seconds(), 1))
            for i, k, due in open_
            if due is not None
        ),
    )
    out += _lines(
        "breachnotice_outbox_pending", "gauge", "Outbox rows not yet published.", [({}, backlog)]
    )
    out += _lines(
        "breachnotice_outbox_lag_seconds",
        "gauge",
        "Age of the oldest unpublished outbox row.",
        [({}, round(lag, 3))],
    )
    out += _lines(
        "breachnotice_audit_unsealed",
        "gauge",
        "Audit rows not yet sealed into the hash chain.",
        [({}, unsealed)],
    )
    return "\n".join(out) + "\n"


def ops_router(engine: Engine, guards: Guards) -> APIRouter:
    router = APIRouter()
    readers = Depends(guards.readers())

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics(_: Principal = readers) -> PlainTextResponse:
        text = await asyncio.to_thread(render_metrics, engine, guards.clock())
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    @router.get("/readyz", dependencies=[Depends(PUBLIC)])
    async def readyz() -> JSONResponse:
        try:
            state = await asyncio.to_thread(schema_state, engine)
        except Exception as exc:  # any database failure: not ready, and why
            return problem(503, f"database unreachable: {type(exc).__name__}", instance="/readyz")
        if not state.at_head:
            detail = f"database at {state.found()}, code expects {state.expected()}"
            return problem(503, detail, instance="/readyz")
        return JSONResponse({"status": "ready", "schema": state.expected()})

    return router
