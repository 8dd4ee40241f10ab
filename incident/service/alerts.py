"""Deadline alerts: the incident's owners are told, through an existing channel, at configured
points before each open legal deadline (e.g. 24 h, 6 h, 1 h) and once when one is missed.

Three steps, each safe to repeat:

- `due_alerts` (pure): which (obligation, point) alerts are due at `now`, given those already
  claimed. Only the tightest point crossed fires, so a check that runs late sends one alert,
  not three; each point fires once; a met obligation, or one without a `due`, never alerts.
- `claim_alerts`: one `alert_sent` row per owner, written in one transaction per alert; the
  primary key (the alert's idempotency key) makes a second claim by another worker fail.
- `send_claimed`: each claimed row is moved to `sending` before the channel call (a
  conditional update: one worker wins) and to `sent` or `failed` after it. A `sending` row
  older than the lease (a crashed worker) is sent again with the same Message-ID.

Owners are named in `[alerts]` settings; their contact details are read from there at send time
and never stored in the table or logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from channels import REGISTRY
from channels.base import Channel, ContactKind, RenderedMessage
from channels.errors import ChannelError, MessageRejected, RecipientRejected
from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AlertSent
from incident.bootstrap import Runtime, build_context, message_domain
from incident.errors import ConfigError
from incident.rendering import Renderer
from incident.service.compose import message_id_for
from incident.service.confirmation import secret_of
from incident.service.keyed_ids import message_key_of
from incident.service.obligations import open_obligations
from incident.settings import AlertOwner, AlertSettings, templates_dir

log = structlog.get_logger()

MISSED = "missed"
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
AlertId = tuple[str, str, str]  # (incident_id, obligation_key, point)


@dataclass(frozen=True, slots=True)
class Alert:
    incident_id: str
    obligation_key: str
    point: str  # "24h", "6h", "1h"... or "missed"
    due: datetime

    @property
    def id(self) -> AlertId:
        return (self.incident_id, self.obligation_key, self.point)


def point_label(hours: float) -> str:
    """24.0 -> "24h", 0.5 -> "0.5h"."""
    return f"{hours:g}h"


def due_alerts(
    obligations: Iterable[ObligationRecord],
    already_sent: Collection[AlertId],
    now: datetime,
    points: Sequence[float],
) -> list[Alert]:
    """The alerts due at `now`: per open obligation with a due time, "missed" once it passed,
    else the tightest configured point already crossed; none already in `already_sent`."""
    out: list[Alert] = []
    for ob in obligations:
        if ob.status != "open" or ob.due is None:
            continue
        if now >= ob.due:
            point = MISSED
        else:
            crossed = [h for h in points if now >= ob.due - timedelta(hours=h)]
            if not crossed:
                continue
            point = point_label(min(crossed))
        alert = Alert(ob.incident_id, ob.key, point, ob.due)
        if alert.id not in already_sent:
            out.append(alert)
    return out


def claimed_alert_ids(session: Session) -> set[AlertId]:
    rows = session.exec(select(AlertSent.incident_id, AlertSent.obligation_key, AlertSent.point))
    return {(i, k, p) for i, k, p in rows.all()}


def alert_key(alert: Alert, owner: str) -> str:
    return f"alert:{alert.incident_id}:{alert.obligation_key}:{alert.point}:{owner}"


def claim_alerts(
    engine: Engine,
    alerts: Sequence[Alert],
    settings: AlertSettings,
    *,
    now: datetime,
    domain: str,
    message_key: bytes,
) -> int:
    """Write a `pending` row per alert and owner; an alert another worker claimed is skipped."""
    claimed = 0
    for alert in alerts:
        with Session(engine) as session:
            for owner in settings.owners:
                key = alert_key(alert, owner.name)
                session.add(
                    AlertSent(
                        idempotency_key=key, incident_id=alert.incident_id,
                        obligation_key=alert.obligation_key, point=alert.point,
                        owner=owner.name, channel=settings.channel, status=PENDING,
                        due=alert.due, message_id=message_id_for(key, domain, message_key),
                        claimed_at=now,
                    )
                )  # fmt: skip
            try:
                session.commit()
                claimed += 1
            except IntegrityError:
                session.rollback()
    return claimed


@dataclass
class AlertRun:
    sent: int = 0
    failed: int = 0
    retry: int = 0


async def send_claimed(
    engine: Engine,
    channel: Channel,
    renderer: Renderer,
    settings: AlertSettings,
    *,
    now: datetime,
) -> AlertRun:
    """Send every claimed alert not yet sent (and resend those a dead worker left `sending`)."""
    run = AlertRun()
    owners = {o.name: o for o in settings.owners}
    for key in _sendable(engine, now - timedelta(seconds=settings.claim_lease_seconds)):
        with Session(engine, expire_on_commit=False) as session:
            row = _take(session, key, now)
            if row is None:
                continue  # another worker took it
            outcome = await _send_one(session, row, owners.get(row.owner), channel, renderer,
                                      settings.locale, now)  # fmt: skip
            session.add(row)
            session.commit()
        setattr(run, outcome, getattr(run, outcome) + 1)
        log.info("deadline_alert", incident_id=row.incident_id, obligation=row.obligation_key,
                 point=row.point, status=row.status, channel=row.channel)  # fmt: skip
    return run


def check_deadline_alerts(rt: Runtime, *, now: datetime) -> AlertRun:
    """One periodic check (the enricher's sweep): decide, claim, send. Cheap when nothing is
    due: no channel is built and no template compiled."""
    settings = rt.settings.alerts
    if not settings.owners:
        return AlertRun()
    with Session(rt.engine) as session:
        alerts = due_alerts(
            open_obligations(session), claimed_alert_ids(session), now, settings.before_hours
        )
    claim_alerts(
        rt.engine,
        alerts,
        settings,
        now=now,
        domain=message_domain(rt.settings),
        message_key=message_key_of(secret_of(rt.settings)),
    )
    if not _sendable(rt.engine, now - timedelta(seconds=settings.claim_lease_seconds)):
        return AlertRun()
    renderer = Renderer(
        templates_dir(),
        default_locale=rt.settings.default_locale,
        required_parts={"alert": ("subject", "text")},
    )
    return asyncio.run(_send_with(rt, renderer, now))


async def _send_with(rt: Runtime, renderer: Renderer, now: datetime) -> AlertRun:
    channel = build_alert_channel(rt)
    try:
        return await send_claimed(rt.engine, channel, renderer, rt.settings.alerts, now=now)
    finally:
        await channel.aclose()


def build_alert_channel(rt: Runtime) -> Channel:
    """The `[alerts] channel`, built from the registry with the runtime's settings for it (the
    local stand-in where the runtime started one)."""
    name = rt.settings.alerts.channel
    spec = REGISTRY.get(name)
    if spec is None:
        raise ConfigError("settings", "alerts.channel", name, f"not one of {sorted(REGISTRY)}")
    cfg = rt.channel_settings.get(name) or spec.settings_model.model_validate(
        rt.settings.channels.get(name, {})
    )
    return spec.factory(cfg, build_context(rt.settings, stack=rt._stack))


def _sendable(engine: Engine, stale: datetime) -> list[str]:
    with Session(engine) as session:
        query = select(AlertSent.idempotency_key).where(
            or_(
                col(AlertSent.status) == PENDING,
                (col(AlertSent.status) == SENDING) & (col(AlertSent.claimed_at) < stale),
            )
        )
        return list(session.exec(query.order_by(col(AlertSent.claimed_at))).all())


def _take(session: Session, key: str, now: datetime) -> AlertSent | None:
    """pending (or stale sending) -> sending, committed before the channel call."""
    row = session.get(AlertSent, key)
    if row is None or row.status not in (PENDING, SENDING):
        return None
    result = session.execute(
        update(AlertSent)
        .where(col(AlertSent.idempotency_key) == key, col(AlertSent.status) == row.status,
               col(AlertSent.tries) == row.tries)
        .values(status=SENDING, claimed_at=now, tries=row.tries + 1)
    )  # fmt: skip
    session.commit()
    if getattr(result, "rowcount", 0) != 1:
        return None
    session.refresh(row)
    return row


async def _send_one(
    session: Session,
    row: AlertSent,
    owner: AlertOwner | None,
    channel: Channel,
    renderer: Renderer,
    locale: str,
    now: datetime,
) -> str:
    """Deliver one alert; the row's new status says what happened ("sent", "failed", "retry")."""
    address = _address(owner, channel.contact_kind)
    if address is None:
        row.status, row.error = FAILED, f"owner has no {channel.contact_kind} in [alerts]"
        return "failed"
    try:
        await channel.deliver(_message(session, row, address, renderer, locale, now))
    except (RecipientRejected, MessageRejected) as exc:
        row.status, row.error = FAILED, str(exc)[:500]
        return "failed"
    except ChannelError as exc:  # the channel or the recipient may take it later
        row.status, row.error = PENDING, str(exc)[:500]
        return "retry"
    row.status, row.sent_at, row.error = SENT, now, None
    return "sent"


def _address(owner: AlertOwner | None, kind: str) -> str | None:
    if owner is None:
        return None
    return owner.email if kind == ContactKind.EMAIL else owner.phone


def _message(
    session: Session,
    row: AlertSent,
    address: str,
    renderer: Renderer,
    locale: str,
    now: datetime,
) -> RenderedMessage:
    ob = session.exec(
        select(ObligationRecord)
        .where(ObligationRecord.incident_id == row.incident_id)
        .where(ObligationRecord.key == row.obligation_key)
        .order_by(col(ObligationRecord.id).desc())
    ).first()
    parts = renderer.render("alert", "alert", locale, _context(row, ob, now))
    return RenderedMessage(
        recipient=address, locale=parts.locale, subject=parts.subject, body_text=parts.text,
        idempotency_key=row.idempotency_key, message_id=row.message_id,
        headers={"X-Incident-Ref": row.incident_id},
    )  # fmt: skip


def _context(row: AlertSent, ob: ObligationRecord | None, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": row.incident_id,
        "missed": row.point == MISSED,
        "due": row.due,
        "left": _span(row.due - now),
        "regime": ob.regime if ob else row.obligation_key,
        "stage": ob.stage if ob else "-",
        "recipient": (ob.recipient_name or ob.recipient) if ob else "-",
        "jurisdiction": ob.jurisdiction if ob else "",
        "citation": ob.citation if ob else "-",
        "time_zone": None,
    }


def _span(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {minutes:02d}m"


def alerts_by_obligation(session: Session) -> dict[tuple[str, str], list[AlertSent]]:
    """Every alert row, grouped by (incident, obligation key), oldest first: for `deadlines`."""
    out: dict[tuple[str, str], list[AlertSent]] = {}
    for row in session.exec(select(AlertSent).order_by(col(AlertSent.claimed_at))).all():
        out.setdefault((row.incident_id, row.obligation_key), []).append(row)
    return out
