"""Dispatch: route each notice job to a channel, claim it, render, send, record the result.

Who is to blame decides what happens after a failure:
- a channel fault (relay down, TLS/AUTH, throttling) spends no tries and makes nobody
  unreachable: the channel's breaker opens, its work is held and resumes by itself;
- a recipient's "try later" retries with backoff and jitter until the horizon (the
  individual-notice deadline, at least a day), then the next channel is tried;
- a recipient's refusal moves the person to their next channel at once;
- our own defect (a rendering bug) retries a bounded number of times.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels import REGISTRY
from channels.base import Channel, Receipt, RenderedMessage
from channels.errors import (
    ChannelFault,
    MessageRejected,
    RecipientDeferred,
    RecipientRejected,
    RecipientVerdict,
    Throttled,
)
from incident.adapters.obligation_tables import ObligationRecord
from incident.adapters.tables import AuditEvent, Incident
from incident.domain.breaker import CircuitBreaker
from incident.domain.content import ContentCheckFailed, MissingSection
from incident.domain.escalation import Routing, read_routing
from incident.domain.events import ChainExhausted, Event, NoticesSettled
from incident.domain.messages import encode_job
from incident.domain.model import AttemptStatus, NoticeJob, NoticeStatus
from incident.domain.policy import retry_delay
from incident.domain.rate import TokenBucket, per_process
from incident.service import bus, claims
from incident.service.claims import ClaimRequest, Outcome
from incident.service.compose import Composer, Delivery
from incident.service.failpoints import failpoint
from incident.service.planning import Plan, plan_batch
from incident.service.recording import SentRecorder, retried
from incident.settings import DispatchSettings, config_dir

log = structlog.get_logger()


def load_routing(settings: DispatchSettings) -> Routing:
    """`dispatch.routing_file` (default config/routing.toml), validated at start."""
    path = Path(settings.routing_file) if settings.routing_file else config_dir() / "routing.toml"
    return read_routing(path, known=REGISTRY.keys(), required=bool(settings.routing_file))


class Publisher(Protocol):
    def publish_all(self, topic: str, items: Any) -> int: ...


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0  # channel fault or open breaker: waiting for the channel, no try spent
    unreachable: int = 0
    skipped: int = 0
    requeue: list[NoticeJob] = field(default_factory=list)
    later: list[tuple[NoticeJob, datetime]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Topics:
    notices: str
    retry: str
    dead: str = ""


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    concurrency: int = 16
    rate_limit_per_second: float | None = None


def sender_key(channel: Channel) -> str:
    """Who a provider counts a channel's messages against: its number or sender address."""
    explicit = getattr(channel, "sender_key", None)
    if isinstance(explicit, str):
        return explicit
    settings = getattr(channel, "settings", None)
    for attr in ("from_number", "messaging_service_sid", "sender"):
        value = getattr(settings, attr, None)
        if value:
            return str(value)
    return ""


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
        kinds: Mapping[str, Sequence[str]] | None = None,
        limits: Mapping[str, ChannelLimits] | None = None,
        routing: Routing | None = None,
    ) -> None:
        self._engine, self._channels, self._composer = engine, channels, composer
        self._settings, self._publisher, self._topics = settings, publisher, topics
        self._worker_id, self._clock = worker_id, clock
        self._kinds = kinds or {name: (ch.contact_kind,) for name, ch in channels.items()}
        self._limits = dict(limits or {})
        self._buckets = self._rate_buckets(settings)
        self._routing = routing if routing is not None else load_routing(settings)
        self._recorder = SentRecorder(engine, worker_id=worker_id, clock=clock)
        self.breakers = {
            name: CircuitBreaker(
                name,
                settings.breaker_base_cooldown_seconds,
                settings.breaker_max_cooldown_seconds,
            )
            for name in channels
        }

    def _rate_buckets(self, settings: DispatchSettings) -> dict[str, TokenBucket]:
        """One token bucket per (channel, sender) with a configured rate, shared by channels
        that send as the same sender; each process takes rate / `dispatch.processes`."""
        by_sender: dict[tuple[str, str], TokenBucket] = {}
        buckets: dict[str, TokenBucket] = {}
        for name, lim in self._limits.items():
            rate = per_process(lim.rate_limit_per_second, settings.processes)
            if rate is None or name not in self._channels:
                continue
            key = (name, sender_key(self._channels[name]))
            burst = max(1.0, rate * settings.rate_burst_seconds)
            buckets[name] = by_sender.setdefault(key, TokenBucket(rate, burst, time.monotonic))
        return buckets

    def close(self) -> None:
        """Nothing to release today; kept so the worker loop ends a dispatcher explicitly."""

    async def handle(self, jobs: list[NoticeJob]) -> BatchResult:
        result = BatchResult()
        self._recorder.forget()
        with Session(self._engine, expire_on_commit=False) as session:
            plan = plan_batch(
                session,
                jobs,
                kinds=self._kinds,
                chain=self._settings.fallback_chain,
                now=self._clock(),
                routing=self._routing,
            )
            result.skipped = plan.skipped
            self._dead_letter_unknown(session, plan.unknown, result)
            events = self._settle_unroutable(session, plan, result)
            send, held = self._admitted(plan.deliveries)
            now = self._clock()  # the claim time: the batch's deadline counts from here
            lease = timedelta(seconds=self._settings.claim_lease_seconds)
            owned = claims.claim(
                session,
                [self._claim_request(d) for d in send],
                worker_id=self._worker_id,
                now=now,
                lease=lease,
            )
            elsewhere = claims.held_elsewhere(session, [d.key for d in send if d.key not in owned])
            self._keep_timers(session, plan, result, now)
            session.commit()
        self._handle_events(events, now)
        deadline = (
            time.monotonic()
            + 0.8 * self._settings.claim_lease_seconds
            - (self._clock() - now).total_seconds()
        )
        result.skipped += len(send) - len(owned) - len(elsewhere)
        self._hold(held, result)
        self._recheck_after_lease(send, elsewhere, lease)
        failpoint("dispatch.after_claim")
        mine = [d for d in send if d.key in owned]
        outcomes = await self._send(mine, deadline)
        failpoint("dispatch.before_record")
        self._record(mine, outcomes, result)
        return result

    def _keep_timers(
        self, session: Session, plan: Plan, result: BatchResult, now: datetime
    ) -> None:
        """Escalation: steps not due yet become rows (a restart keeps them), unneeded ones are
        cancelled. A timer due soon also waits in memory (`result.later`); a later one is
        found by the sweep when due, so a million 48-hour timers do not sit in memory."""
        claims.schedule(session, [(self._claim_request(d), due) for d, due in plan.timers], now=now)
        claims.cancel(session, plan.cancel, now=now)
        claims.restore(session, plan.restore, now=now)
        horizon = now + timedelta(seconds=self._settings.timer_memory_seconds)
        result.later += [(job, due) for job, due in plan.wake if due <= horizon]

    def _dead_letter_unknown(
        self, session: Session, jobs: list[NoticeJob], result: BatchResult
    ) -> None:
        """Jobs of an incident that does not exist: parked with the reason, and recorded."""
        if not jobs:
            return
        result.skipped += len(jobs)
        reason = "unknown incident"
        for job in jobs:
            session.add(
                AuditEvent(
                    kind="poison_message",
                    at=self._clock(),
                    detail={
                        "topic": self._topics.notices,
                        "reason": f"{reason} {job.incident_id!r}",
                        "addressee_id": job.addressee_id,
                    },
                )
            )
        if self._topics.dead:
            self._publisher.publish_all(
                self._topics.dead,
                [encode_job(job, reason=reason) for job in jobs],
            )
        log.error("poison_message", reason=reason, jobs=len(jobs))

    def _settle_unroutable(self, session: Session, plan: Plan, result: BatchResult) -> list[Event]:
        """No channel left: the notice is unreachable, with the reason, and it is an event."""
        now = self._clock()
        reasons = {**plan.unreachable, **{nid: why for nid, (_, why) in plan.exhausted.items()}}
        claims.mark_unreachable(session, reasons, now=now)
        result.unreachable = len(reasons)
        incidents = {d.incident.id for d in plan.deliveries}
        events: list[Event] = []
        for _nid, (person_id, why) in plan.exhausted.items():
            incident_id = self._incident_of(session, _nid)
            events.append(ChainExhausted(incident_id, person_id, why))
            incidents.add(incident_id)
        for incident_id in {e.incident_id for e in events}:
            events.append(NoticesSettled(incident_id, 0))
        return events

    @staticmethod
    def _incident_of(session: Session, notice_id: int) -> str:
        from incident.adapters.tables import Notice

        notice = session.get(Notice, notice_id)
        assert notice is not None
        return notice.incident_id

    def _admitted(self, deliveries: list[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
        """What the channels' breakers let through now; the rest is held for the channel."""
        now = self._clock()
        send: list[Delivery] = []
        held: list[Delivery] = []
        quota = {name: b.admits(now) for name, b in self.breakers.items()}
        for d in deliveries:
            room = quota.get(d.channel)
            if room is None:
                send.append(d)
            elif room > 0:
                quota[d.channel] = room - 1
                send.append(d)
            else:
                held.append(d)
        return send, held

    def _hold(self, held: list[Delivery], result: BatchResult) -> None:
        now = self._clock()
        for d in held:
            result.held += 1
            result.later.append((_job_of(d), self.breakers[d.channel].held_until(now)))

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
                encode_job(_job_of(d), not_before=held[d.key] + lease)
                for d in deliveries
                if d.key in held
            ],
        )

    def _claim_request(self, d: Delivery) -> ClaimRequest:
        return ClaimRequest(
            d.key,
            d.incident.id,
            d.subject.id,
            d.channel,
            d.incident.notice_version,
            self._composer.message_id(d.key),
            addressee_kind=d.addressee_kind,
            contact_point_id=d.contact_point_id,
        )

    async def _send(self, deliveries: list[Delivery], deadline: float) -> list[Outcome]:
        by_channel: dict[str, list[Delivery]] = {}
        for d in deliveries:
            by_channel.setdefault(d.channel, []).append(d)
        groups = [self._send_channel(name, group, deadline) for name, group in by_channel.items()]
        outcomes: list[Outcome] = []
        for part in await asyncio.gather(*groups):
            outcomes.extend(part)
        return outcomes

    async def _send_channel(
        self, name: str, group: list[Delivery], deadline: float
    ) -> list[Outcome]:
        """Each message's outcome is kept as it completes; at the deadline only the unfinished
        ones become retries (resent later with the same Message-ID), never the whole batch."""
        channel = self._channels[name]
        results: list[Receipt | BaseException | None] = [None] * len(group)
        accepted: list[Outcome | None] = [None] * len(group)
        messages: list[RenderedMessage | None] = []
        for i, d in enumerate(group):
            try:
                messages.append(self._composer.message(d))
            except Exception as exc:  # a defect in one notice must not stop the others
                messages.append(None)
                results[i] = exc
        todo = iter([i for i, m in enumerate(messages) if m is not None])
        bucket = self._buckets.get(name)
        breaker = self.breakers[name]

        async def worker() -> None:
            for i in todo:
                if breaker.state != "closed" and results[i] is None and _faulted(results):
                    return  # the channel is down: keep the rest for later, untried
                if bucket is not None and (wait := bucket.reserve()) > 0:
                    await asyncio.sleep(wait)
                msg = messages[i]
                assert msg is not None
                try:
                    results[i] = receipt = await channel.deliver(msg)
                    accepted[i] = outcome = self._outcome(group[i], receipt)
                    failpoint("dispatch.after_accept")
                    if self._settings.record_each_message:
                        await self._accepted(outcome, senders)
                except Exception as exc:
                    results[i] = exc
                    if isinstance(exc, Throttled) and bucket is not None:
                        if bucket.slow_down(0.5):  # the message is retried, no try spent
                            log.warning("channel_throttled", channel=name, rate=bucket.current)
                    elif isinstance(exc, ChannelFault):
                        breaker.fault(str(exc), self._clock())

        width = self._limits.get(name, ChannelLimits()).concurrency
        senders = min(width, len(group)) or 1
        workers = [asyncio.ensure_future(worker()) for _ in range(senders)]
        remaining = deadline - time.monotonic()
        _done, pending = await asyncio.wait(workers, timeout=max(0.0, remaining))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.warning(
                "batch_over_deadline", channel=name, unfinished=sum(1 for r in results if r is None)
            )
        await self._recorder.drain()
        return [a or self._outcome(d, r) for d, r, a in zip(group, results, accepted, strict=True)]

    async def _accepted(self, outcome: Outcome, senders: int) -> None:
        """The provider took the message: record it before this connection sends another, so a
        crash resends at most what was on the wire. A record that fails here (the database
        is gone) is made again with the batch's other results, or the lease resends it."""
        try:
            await self._recorder.record(outcome, senders=senders)
        except Exception as exc:
            log.warning("record_sent_deferred", channel=outcome.channel, error=type(exc).__name__)

    def _outcome(self, d: Delivery, result: Receipt | BaseException | None) -> Outcome:
        breaker = self.breakers[d.channel]
        if isinstance(result, Receipt):
            if breaker.success():
                log.info("channel_recovered", channel=d.channel)
            return Outcome(d.key, d.notice_id, d.channel, AttemptStatus.SENT, result.provider_id)
        if result is None:  # untried because the channel went down, or out of time
            down = breaker.state != "closed"
            why = (
                f"held: channel down ({breaker.cause})"
                if down
                else ("not finished before the batch deadline (claim lease)")
            )
            return Outcome(
                d.key,
                d.notice_id,
                d.channel,
                AttemptStatus.RETRY,
                spend=False,
                error=why,
                fault=down,
            )
        if isinstance(result, ChannelFault):
            return Outcome(
                d.key,
                d.notice_id,
                d.channel,
                AttemptStatus.RETRY,
                spend=False,
                error=f"channel fault: {result}",
                fault=True,
            )
        if isinstance(result, RecipientRejected):
            return Outcome(
                d.key,
                d.notice_id,
                d.channel,
                AttemptStatus.FAILED,
                error=str(result),
                contact_point_id=d.contact_point_id,
                verdict=True,
            )
        if isinstance(result, MessageRejected):
            # This message, not this contact point: next channel, the point stays usable.
            return Outcome(
                d.key, d.notice_id, d.channel, AttemptStatus.FAILED, error=str(result), verdict=True
            )
        if isinstance(result, RecipientDeferred | RecipientVerdict):
            return Outcome(
                d.key, d.notice_id, d.channel, AttemptStatus.RETRY, error=str(result), verdict=True
            )
        if isinstance(result, ContentCheckFailed | MissingSection):
            # The notice would break the law's content rules: it is not sent, and nobody's tries
            # are spent; it is looked at again later (after the incident text is corrected).
            log.error("content_check_failed", channel=d.channel, key=d.key, error=str(result))
            hold = timedelta(seconds=self._settings.content_hold_seconds)
            return Outcome(
                d.key, d.notice_id, d.channel, AttemptStatus.RETRY, spend=False,
                error=str(result), not_before=self._clock() + hold,
            )  # fmt: skip
        # Not the channel's verdict but our defect (rendering, a bug): record it precisely and
        # retry, so a fix deployed in time still reaches the person; bounded by max_tries.
        log.error("delivery_crashed", channel=d.channel, key=d.key, exc_info=result)
        return Outcome(
            d.key,
            d.notice_id,
            d.channel,
            AttemptStatus.RETRY,
            error=f"internal error: {type(result).__name__}: {result}",
        )

    def _handle_events(self, events: list[Event], now: datetime) -> None:
        """The batch's events, in a transaction of their own once its claims are committed:
        the incident row lock the obligation handlers take is then the first lock this
        transaction holds, so two dispatchers cannot deadlock on batch rows and the incident.
        A deadlock or lost connection all the same is retried on a fresh transaction."""
        if not events:
            return

        def once() -> None:
            with Session(self._engine, expire_on_commit=False) as session:
                bus.handle(session, events, now=now)
                session.commit()

        retried(once, what="events")

    def _record(self, mine: list[Delivery], outcomes: list[Outcome], result: BatchResult) -> None:
        by_key = {d.key: d for d in mine}
        now = self._clock()
        opened = {name for name, b in self.breakers.items() if b.state != "closed"}
        for name in opened:
            if any(o.fault and o.channel == name for o in outcomes):
                b = self.breakers[name]
                log.warning(
                    "channel_unavailable",
                    channel=name,
                    cause=b.cause,
                    retry_at=b.held_until(now).isoformat(),
                )
        # What was sent must be recorded, or it is resent after the lease: a lost database
        # connection (a restart, a failover) is retried on a fresh one before giving up.
        recorded = set(self._recorder.recorded)
        settled = retried(lambda: self._record_once(by_key, outcomes, recorded, now), what="record")
        self._follow_up(mine, settled, result)

    def _record_once(
        self,
        by_key: Mapping[str, Delivery],
        outcomes: list[Outcome],
        recorded: set[str],
        now: datetime,
    ) -> list[Outcome]:
        """The batch's results not recorded as they happened, and its settled events."""
        with Session(self._engine, expire_on_commit=False) as session:
            todo = [o for o in outcomes if o.key not in recorded]
            tries = claims.tries_of(session, (o.key for o in todo))
            horizons = self._horizons(session, {by_key[o.key].incident.id for o in todo})
            settled = [
                self._settle(o, by_key[o.key], tries.get(o.key, 1), horizons, now) for o in todo
            ]
            claims.record(session, settled, worker_id=self._worker_id, now=now)
            settled += [o for o in outcomes if o.key in recorded]
            sent = [by_key[o.key].incident.id for o in settled if o.status is AttemptStatus.SENT]
            bus.handle(session, [NoticesSettled(i, sent.count(i)) for i in set(sent)], now=now)
            session.commit()
        return settled

    def _horizons(
        self, session: Session, incident_ids: set[str]
    ) -> dict[tuple[str, str], datetime]:
        """Earliest open individual-notice deadline per (incident, jurisdiction)."""
        rows = session.exec(
            select(
                ObligationRecord.incident_id, ObligationRecord.jurisdiction, ObligationRecord.due
            ).where(
                col(ObligationRecord.incident_id).in_(incident_ids),
                ObligationRecord.recipient == "individuals",
                col(ObligationRecord.superseded_at).is_(None),
                col(ObligationRecord.due).is_not(None),
            )
        ).all()
        out: dict[tuple[str, str], datetime] = {}
        for incident_id, place, due in rows:
            key = (incident_id, place)
            if due is not None and (key not in out or due < out[key]):
                out[key] = due
        return out

    def _settle(
        self,
        o: Outcome,
        d: Delivery,
        tries: int,
        horizons: Mapping[tuple[str, str], datetime],
        now: datetime,
    ) -> Outcome:
        """When a retry is due, or that it is given up on this channel."""
        if o.status is not AttemptStatus.RETRY:
            return o
        if not o.spend:  # channel fault, deadline or content hold: no try spent
            due = self.breakers[o.channel].held_until(now) if o.fault else (o.not_before or now)
            return o.but(not_before=due, tries_delta=-1)
        delay = retry_delay(
            tries,
            base_seconds=self._settings.retry_base_seconds,
            cap_seconds=self._settings.retry_max_delay_seconds,
        )
        due = now + timedelta(seconds=delay * random.uniform(0.8, 1.2))  # jitter
        if not o.verdict:  # our own defect: bounded tries
            if tries >= self._settings.max_tries:
                return o.but(
                    status=AttemptStatus.FAILED, error=f"gave up after {tries} tries: {o.error}"
                )
            return o.but(not_before=due)
        start = d.created_at or now
        horizon = max(
            start + timedelta(hours=self._settings.retry_min_horizon_hours),
            horizons.get((d.incident.id, d.jurisdiction or ""), start),
        )
        if due > horizon:
            return o.but(
                status=AttemptStatus.FAILED,
                error=f"still deferred at the horizon {horizon.isoformat()}: {o.error}",
            )
        return o.but(not_before=due)

    def _follow_up(
        self, deliveries: list[Delivery], outcomes: list[Outcome], result: BatchResult
    ) -> None:
        """Failed → requeue now (routing picks the next channel); retry → due later."""
        by_key = {d.key: d for d in deliveries}
        for o in outcomes:
            d = by_key[o.key]
            job = _job_of(d)
            if o.status is AttemptStatus.SENT:
                result.sent += 1
            elif o.status is AttemptStatus.FAILED:
                result.failed += 1
                result.requeue.append(job)
            else:
                if o.fault:
                    result.held += 1
                else:
                    result.retried += 1
                result.later.append((job, o.not_before or self._clock()))
            log.info(
                "delivery_" + o.status.value,
                incident_id=d.incident.id,
                channel=o.channel,
                key=o.key,
                error=o.error,
            )
        if result.requeue:
            self._publisher.publish_all(
                self._topics.notices,
                [encode_job(j) for j in result.requeue],
            )


def _faulted(results: Sequence[Receipt | BaseException | None]) -> bool:
    return any(isinstance(r, ChannelFault) for r in results)


def _job_of(d: Delivery) -> NoticeJob:
    return NoticeJob(d.incident.id, d.subject.id, d.incident.notice_version, d.addressee_kind)


__all__ = ["BatchResult", "ChannelLimits", "Dispatcher", "Incident", "NoticeStatus", "Topics"]
