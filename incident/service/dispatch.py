"""Dispatch: route each notice job to a channel, claim it, render, send, record the result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels.base import Channel, Receipt, RenderedMessage
from channels.errors import PermanentChannelError, TransientChannelError
from incident.adapters.tables import Incident, Notice
from incident.domain.model import AttemptStatus, NoticeJob, NoticeStatus
from incident.domain.policy import retry_delay
from incident.service import claims
from incident.service.claims import ClaimRequest, Outcome
from incident.service.compose import Composer, Delivery, contact_point, message_id_for
from incident.service.failpoints import failpoint
from incident.service.obligations import recompute_obligations
from incident.service.planning import plan_batch
from incident.settings import DispatchSettings

log = structlog.get_logger()


class Publisher(Protocol):
    def publish_all(self, topic: str, items: Any) -> int: ...


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unreachable: int = 0
    skipped: int = 0
    requeue: list[NoticeJob] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Topics:
    notices: str
    retry: str


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        composer: Composer,
        *,
        settings: DispatchSettings,
        publisher: Publisher,
        topics: Topics,
        worker_id: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine, self._channels, self._composer = engine, channels, composer
        self._settings, self._publisher, self._topics = settings, publisher, topics
        self._worker_id, self._clock = worker_id, clock

    async def handle(self, jobs: list[NoticeJob]) -> BatchResult:
        result = BatchResult()
        now = self._clock()
        with Session(self._engine, expire_on_commit=False) as session:
            plan = plan_batch(
                session, jobs, channels=self._channels, chain=self._settings.fallback_chain, now=now
            )
            result.skipped = plan.skipped
            claims.mark_unreachable(session, plan.unreachable, now=now)
            result.unreachable = len(plan.unreachable)
            lease = timedelta(seconds=self._settings.claim_lease_seconds)
            owned = claims.claim(
                session,
                [self._claim_request(d) for d in plan.deliveries],
                worker_id=self._worker_id,
                now=now,
                lease=lease,
            )
            held = claims.held_elsewhere(
                session, [d.key for d in plan.deliveries if d.key not in owned]
            )
            session.commit()
        result.skipped += len(plan.deliveries) - len(owned) - len(held)
        self._recheck_after_lease(plan.deliveries, held, lease)
        failpoint("dispatch.after_claim")
        mine = [d for d in plan.deliveries if d.key in owned]
        outcomes = await self._send(mine)
        failpoint("dispatch.before_record")
        with Session(self._engine, expire_on_commit=False) as session:
            tries = claims.tries_of(session, (o.key for o in outcomes))
            outcomes = [self._settle(o, tries.get(o.key, 1)) for o in outcomes]
            claims.record(session, outcomes, worker_id=self._worker_id, now=self._clock())
            session.commit()
        self._follow_up(mine, outcomes, tries, result)
        self._refresh_obligations_when_settled({job.incident_id for job in jobs})
        return result

    def _recheck_after_lease(
        self, deliveries: list[Delivery], held: dict[str, datetime], lease: timedelta
    ) -> None:
        """A notice another worker is sending is looked at again once its lease has run out:
        by then it is recorded (nothing to do) or its worker died (this one takes over)."""
        if not held:
            return
        self._publisher.publish_all(
            self._topics.retry,
            [
                (
                    d.subject.id,
                    {**_job_payload(_job_of(d)), "not_before": (held[d.key] + lease).isoformat()},
                )
                for d in deliveries
                if d.key in held
            ],
        )

    def _refresh_obligations_when_settled(self, incident_ids: set[str]) -> None:
        """Unreachable counts feed substitute-notice decisions: recompute once all are settled."""
        with Session(self._engine) as session:
            for incident_id in incident_ids:
                pending = session.exec(
                    select(Notice.id)
                    .where(
                        Notice.incident_id == incident_id,
                        Notice.status == NoticeStatus.PENDING.value,
                    )
                    .limit(1)
                ).first()
                if pending is None:
                    # Row lock: two dispatchers finishing together must not both supersede.
                    incident = session.exec(
                        select(Incident).where(Incident.id == incident_id).with_for_update()
                    ).first()
                    if incident is not None:  # a job of an unknown incident was only skipped
                        recompute_obligations(session, incident_id, now=self._clock())
            session.commit()

    def _claim_request(self, d: Delivery) -> ClaimRequest:
        return ClaimRequest(
            d.key,
            d.incident.id,
            d.subject.id,
            d.channel,
            d.incident.notice_version,
            message_id_for(d.key, self._composer.message_domain),
        )

    async def _send(self, deliveries: list[Delivery]) -> list[Outcome]:
        by_channel: dict[str, list[Delivery]] = {}
        for d in deliveries:
            by_channel.setdefault(d.channel, []).append(d)
        outcomes: list[Outcome] = []
        for name, group in by_channel.items():
            channel = self._channels[name]
            ready: list[Delivery] = []
            messages: list[RenderedMessage] = []
            for d in group:
                try:
                    messages.append(
                        self._composer.message(
                            d, recipient=contact_point(channel.contact_kind, d.recipient) or ""
                        )
                    )
                    ready.append(d)
                except Exception as exc:  # a defect in one notice must not stop the others
                    outcomes.append(_outcome(d, exc))
            outcomes.extend(await self._deliver_within_lease(channel, ready, messages))
        return outcomes

    async def _deliver_within_lease(
        self, channel: Channel, ready: list[Delivery], messages: list[RenderedMessage]
    ) -> list[Outcome]:
        """Claims must be recorded before their lease ends, or another worker would take them
        over while this one is still sending. A batch that runs out of time is recorded as a
        retry: a notice that did go out is resent once, with the same Message-ID."""
        deadline = 0.8 * self._settings.claim_lease_seconds
        try:
            results = await asyncio.wait_for(channel.deliver_many(messages), timeout=deadline)
        except TimeoutError:
            log.warning(
                "batch_over_deadline", channel=channel.name, notices=len(ready), deadline_s=deadline
            )
            return [
                Outcome(
                    d.key,
                    d.notice_id,
                    d.channel,
                    AttemptStatus.RETRY,
                    error=f"not confirmed within {deadline:.0f} s (claim lease)",
                )
                for d in ready
            ]
        return [_outcome(d, r) for d, r in zip(ready, results, strict=True)]

    def _settle(self, o: Outcome, tries: int) -> Outcome:
        """A transient failure that used up its tries becomes permanent on this channel."""
        if o.status is AttemptStatus.RETRY and tries >= self._settings.max_tries:
            return Outcome(
                o.key,
                o.notice_id,
                o.channel,
                AttemptStatus.FAILED,
                error=f"gave up after {tries} tries: {o.error}",
            )
        return o

    def _follow_up(
        self,
        deliveries: list[Delivery],
        outcomes: list[Outcome],
        tries: dict[str, int],
        result: BatchResult,
    ) -> None:
        """Failed → requeue now (routing picks the next channel); retry → retry topic later."""
        by_key = {d.key: d for d in deliveries}
        retries: list[tuple[str, dict[str, Any]]] = []
        for o in outcomes:
            d = by_key[o.key]
            job = _job_of(d)
            if o.status is AttemptStatus.SENT:
                result.sent += 1
            elif o.status is AttemptStatus.FAILED:
                result.failed += 1
                result.requeue.append(job)
            else:
                result.retried += 1
                due = self._clock() + timedelta(
                    seconds=retry_delay(
                        tries.get(o.key, 1), base_seconds=self._settings.retry_base_seconds
                    )
                )
                retries.append(
                    (job.person_id, {**_job_payload(job), "not_before": due.isoformat()})
                )
            log.info(
                "delivery_" + o.status.value,
                incident_id=d.incident.id,
                channel=o.channel,
                key=o.key,
                error=o.error,
            )
        if retries:
            self._publisher.publish_all(self._topics.retry, retries)
        if result.requeue:
            self._publisher.publish_all(
                self._topics.notices, [(j.person_id, _job_payload(j)) for j in result.requeue]
            )


def _job_of(d: Delivery) -> NoticeJob:
    return NoticeJob(d.incident.id, d.subject.id, d.incident.notice_version)


def _job_payload(job: NoticeJob) -> dict[str, Any]:
    return {
        "incident_id": job.incident_id,
        "person_id": job.person_id,
        "notice_version": job.notice_version,
    }


def _outcome(d: Delivery, result: Receipt | BaseException) -> Outcome:
    if isinstance(result, Receipt):
        return Outcome(d.key, d.notice_id, d.channel, AttemptStatus.SENT, result.provider_id)
    if isinstance(result, TransientChannelError):
        return Outcome(d.key, d.notice_id, d.channel, AttemptStatus.RETRY, error=str(result))
    if isinstance(result, PermanentChannelError):
        return Outcome(d.key, d.notice_id, d.channel, AttemptStatus.FAILED, error=str(result))
    # Not the channel's verdict but our defect (rendering, a bug): record it precisely and retry,
    # so a fix deployed in time still reaches the person; only exhausted tries make it final.
    log.error("delivery_crashed", channel=d.channel, key=d.key, exc_info=result)
    return Outcome(
        d.key,
        d.notice_id,
        d.channel,
        AttemptStatus.RETRY,
        error=f"internal error: {type(result).__name__}: {result}",
    )
