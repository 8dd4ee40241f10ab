"""The three long-running workers: outbox relay, enricher, dispatcher.

Each runs until `stop` is set, finishes the batch in hand, commits its offsets and closes.
Kafka calls block, so each worker owns a thread; the dispatcher runs its sends on an event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlmodel import Session

from channels import REGISTRY
from incident.adapters.directory_source import sql_source
from incident.adapters.kafka_bus import MessageConsumer, MessageProducer, Record
from incident.adapters.tables import AuditEvent
from incident.bootstrap import (
    Runtime,
    build_channels,
    build_composer,
    channel_kinds,
    contact_checks,
)
from incident.domain.events import IncidentEnriched
from incident.domain.messages import encode_job, parse_incident_event, parse_notice_job
from incident.domain.model import NoticeJob
from incident.entrypoints import health
from incident.entrypoints.supervision import RestartPolicy
from incident.errors import MalformedMessage, NotFound
from incident.service import bus
from incident.service.alerts import check_deadline_alerts
from incident.service.audit import seal_pending
from incident.service.dispatch import (
    BatchResult,
    ChannelLimits,
    Dispatcher,
    Topics,
)
from incident.service.enrich import EnrichContext, enrich_incident
from incident.service.job_outbox import NOTICES
from incident.service.recovery import resume_from_database
from incident.service.relay import relay_outbox
from incident.service.sweep import sweep_stale

log = structlog.get_logger()
_PROCESS_TAG = uuid.uuid4().hex[:8]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class StopFlag(Protocol):
    """A threading.Event or a multiprocessing Event: set once, when the worker should stop."""

    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


def run_relay(rt: Runtime, stop: StopFlag, *, interval: float = 0.2) -> None:
    producer = MessageProducer(rt.settings.kafka, rt.bootstrap_servers)
    topics = {NOTICES: rt.settings.kafka.notices_topic}
    try:
        while not stop.is_set():
            with structlog.contextvars.bound_contextvars(stage="relay"):
                published = relay_outbox(rt.engine, producer, now=utcnow(), topics=topics)
                sealed = seal_pending(rt.engine)  # the audit rows committed meanwhile
                if published == 0 and sealed == 0:
                    stop.wait(interval)
    finally:
        producer.close()


def run_enricher(rt: Runtime, stop: StopFlag) -> None:
    kafka = rt.settings.kafka
    consumer = MessageConsumer(
        kafka,
        rt.bootstrap_servers,
        group_id=kafka.enricher_group,
        topics=[kafka.incidents_topic],
        member="enricher",
    )
    producer = MessageProducer(kafka, rt.bootstrap_servers)
    checks = contact_checks(rt.settings)
    events = resume_from_database(rt.engine, producer, incidents_topic=kafka.incidents_topic)
    if events:
        log.info("resumed_from_database", stage="enrich", incidents=events)
    next_sweep = 0.0
    try:
        while not stop.is_set():
            for record in consumer.poll(max_records=10, timeout_ms=500):
                _enrich_one(rt, record, producer, checks, consumer.keepalive)
            consumer.commit()  # only after every polled incident is stored and queued
            if time.monotonic() >= next_sweep:
                _sweep(rt, producer)
                next_sweep = time.monotonic() + max(
                    1.0, rt.settings.dispatch.sweep_after_seconds / 4
                )
    finally:
        consumer.close()
        producer.close()


def _sweep(rt: Runtime, producer: MessageProducer) -> None:
    dispatch = rt.settings.dispatch
    swept = sweep_stale(
        rt.engine,
        producer,
        topic=rt.settings.kafka.notices_topic,
        now=utcnow(),
        older_than=timedelta(seconds=dispatch.sweep_after_seconds),
        lease=timedelta(seconds=dispatch.claim_lease_seconds),
    )
    if swept:
        log.info("pending_notices_requeued", stage="sweep", notices=swept)
    try:
        check_deadline_alerts(rt, now=utcnow())
    except Exception:  # an alert problem is logged loudly but never stops enrichment
        log.exception("deadline_alerts_failed", stage="alerts")


def _enrich_one(
    rt: Runtime,
    record: Record,
    producer: MessageProducer,
    checks: Any,
    keepalive: Callable[[], None],
) -> None:
    try:
        event = parse_incident_event(record.value)
    except MalformedMessage as exc:
        _dead_letter(rt, producer, record, f"not an incident event: {exc.reason}")
        return
    incident_id = event.incident_id
    with structlog.contextvars.bound_contextvars(
        stage="enrich", incident_id=incident_id, offset=record.offset
    ):
        ctx = EnrichContext(
            publisher=producer,
            notices_topic=rt.settings.kafka.notices_topic,
            checks=checks,
            majority_ages=rt.settings.minors,
            now=utcnow(),
            tick=keepalive,
            directory=sql_source(rt.settings.directory, REGISTRY.keys()),
        )
        try:
            result = enrich_incident(rt.engine, event.payload(), ctx)
        except NotFound as exc:
            _dead_letter(rt, producer, record, str(exc))
            return
        if not result.already_processed:
            _after_enrichment(rt, incident_id, result.affected)


def _after_enrichment(rt: Runtime, incident_id: str, affected: int) -> None:
    """Obligations from the counts now known. A failure here is recorded and reported, but
    the incident's notices are already queued: it must not stop the enricher."""
    try:
        with Session(rt.engine) as session:
            bus.handle(session, [IncidentEnriched(incident_id, affected)], now=utcnow())
            session.commit()
    except Exception as exc:
        log.exception("obligations_not_recomputed", incident_id=incident_id)
        with Session(rt.engine) as session:
            session.add(
                AuditEvent(
                    incident_id=incident_id,
                    kind="obligations_failed",
                    at=utcnow(),
                    detail={"error": f"{type(exc).__name__}: {exc}"},
                )
            )
            session.commit()


def _dead_letter(rt: Runtime, producer: MessageProducer, record: Record, reason: str) -> None:
    """A message that can never be processed: park it with its reason, and record that we did."""
    log.error("poison_message", topic=record.topic, offset=record.offset, reason=reason)
    producer.publish_all(
        rt.settings.kafka.dead_topic,
        [
            (
                record.key or "",
                {
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "reason": reason,
                    "value": record.value.decode("utf-8", "replace"),
                },
            )
        ],
    )
    with Session(rt.engine) as session:
        session.add(
            AuditEvent(
                kind="poison_message",
                at=utcnow(),
                detail={"topic": record.topic, "offset": record.offset, "reason": reason},
            )
        )
        session.commit()


def run_dispatcher(
    rt: Runtime,
    stop: StopFlag,
    *,
    index: int = 0,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> None:
    """`index` tells this instance's dispatchers apart (static group membership)."""
    asyncio.run(_dispatch_loop(rt, stop, index, on_batch))


async def _dispatch_loop(
    rt: Runtime, stop: StopFlag, index: int, on_batch: Callable[[BatchResult], None] | None
) -> None:
    kafka = rt.settings.kafka
    # Unique per process and index: a dispatcher restarted in this process after a crash is the
    # same claimant, and takes back at once the claims its previous run left `sending`.
    worker_id = f"dispatcher-{index}-{_PROCESS_TAG}"
    consumer = MessageConsumer(
        kafka,
        rt.bootstrap_servers,
        group_id=kafka.dispatcher_group,
        topics=[kafka.notices_topic, kafka.retry_topic],
        member=f"dispatcher-{index}",
    )
    producer = MessageProducer(kafka, rt.bootstrap_servers)
    channels = build_channels(rt)
    dispatcher = Dispatcher(
        rt.engine,
        channels,
        build_composer(rt.settings, rt.engine),
        settings=rt.settings.dispatch,
        publisher=producer,
        topics=Topics(kafka.notices_topic, kafka.retry_topic, kafka.dead_topic),
        worker_id=worker_id,
        clock=utcnow,
        kinds=channel_kinds(channels),
        limits={
            name: ChannelLimits(cfg.concurrency, cfg.rate_limit_per_second)
            for name, cfg in rt.channel_settings.items()
        },
    )
    delayed = DelayedJobs(producer, kafka.retry_topic)
    batch_size = rt.settings.dispatch.batch_size
    try:
        while not stop.is_set():
            due = delayed.pop_due(utcnow(), batch_size)
            # Never sleep between polls (a member that does not poll falls behind its group's
            # join); wait inside poll instead, at most until the next delayed job is due.
            wait_ms = 0 if due else int(min(200, delayed.seconds_to_next(utcnow()) * 1000))
            records = await asyncio.to_thread(
                consumer.poll, max_records=batch_size, timeout_ms=wait_ms
            )
            jobs = due + _due_jobs(rt, producer, records, delayed)
            if jobs:
                with structlog.contextvars.bound_contextvars(stage="dispatch", worker=worker_id):
                    result = await dispatcher.handle(jobs)
                delayed.add_all(result.later)
            else:
                result = BatchResult()
            if records:
                consumer.commit()  # after the batch's results are committed to the database
            if on_batch and jobs:
                on_batch(result)
    finally:
        dispatcher.close()
        for channel in channels.values():
            await channel.aclose()
        consumer.close()
        producer.close()


class DelayedJobs:
    """Jobs not due yet, held in memory until they are (no republish loop on the broker).

    Their offsets are committed: the database still has each as a pending notice with its
    attempt's `not_before`, so a dispatcher that dies loses nothing (the sweep requeues them).
    Beyond `capacity` jobs they go back on the retry topic instead."""

    def __init__(self, producer: MessageProducer, topic: str, capacity: int = 200_000) -> None:
        self._heap: list[tuple[datetime, int, NoticeJob]] = []
        self._seq = 0
        self._producer, self._topic, self._capacity = producer, topic, capacity

    def add_all(self, items: list[tuple[NoticeJob, datetime]]) -> None:
        overflow = []
        for job, due in items:
            if len(self._heap) >= self._capacity:
                overflow.append(encode_job(job, not_before=due))
                continue
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, job))
        if overflow:
            self._producer.publish_all(self._topic, overflow)

    def pop_due(self, now: datetime, limit: int) -> list[NoticeJob]:
        out: list[NoticeJob] = []
        while self._heap and self._heap[0][0] <= now and len(out) < limit:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def seconds_to_next(self, now: datetime) -> float:
        if not self._heap:
            return 0.2
        return max(0.01, (self._heap[0][0] - now).total_seconds())


def _due_jobs(
    rt: Runtime, producer: MessageProducer, records: list[Record], delayed: DelayedJobs
) -> list[NoticeJob]:
    """Jobs due now; those not due yet wait in memory."""
    jobs: list[NoticeJob] = []
    now = utcnow()
    later: list[tuple[NoticeJob, datetime]] = []
    for record in records:
        try:
            parsed = parse_notice_job(record.raw_key, record.value, now=now)
        except MalformedMessage as exc:
            _dead_letter(rt, producer, record, f"not a notice job: {exc.reason}")
            continue
        job, not_before = parsed.job, parsed.not_before
        if not_before is not None and not_before > now:
            later.append((job, not_before))
        else:
            jobs.append(job)
    delayed.add_all(later)
    return jobs


Worker = Callable[[Runtime, threading.Event], None]


def run_all(
    rt: Runtime,
    stop: threading.Event,
    *,
    dispatchers: int = 1,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> list[threading.Thread]:
    """Start relay, enricher and dispatcher threads; join them after setting `stop`."""

    def dispatcher(index: int) -> Worker:
        return lambda rt, stop: run_dispatcher(rt, stop, index=index, on_batch=on_batch)

    workers: list[tuple[str, Worker]] = [("relay", run_relay), ("enricher", run_enricher)]
    workers += [(f"dispatcher-{i}", dispatcher(i)) for i in range(dispatchers)]
    return start_threads(rt, stop, workers)


def start_threads(
    rt: Runtime, stop: threading.Event, workers: list[tuple[str, Worker]]
) -> list[threading.Thread]:
    threads = []
    for name, fn in workers:
        thread = threading.Thread(name=name, daemon=True)
        thread.run = _guarded(thread, fn, rt, stop)  # type: ignore[method-assign]
        threads.append(thread)
        thread.start()
    return threads


def _guarded(
    thread: threading.Thread, fn: Worker, rt: Runtime, stop: threading.Event
) -> Callable[[], None]:
    """Restart a crashed worker with backoff; only one that keeps failing past the give-up
    time takes the service down (loudly, instead of leaving it half-running)."""
    policy = RestartPolicy()

    def run() -> None:
        while not stop.is_set():
            started = time.monotonic()
            health.report(thread.name, "up")
            try:
                fn(rt, stop)
                health.forget(thread.name)
                return
            except Exception as exc:
                delay = policy.crashed(time.monotonic() - started)
                if delay is None:
                    thread.crashed = True  # type: ignore[attr-defined]
                    health.report(thread.name, "gave_up")
                    log.exception("worker_gave_up", worker=thread.name)
                    stop.set()
                    raise
                health.report(thread.name, "restarting")
                log.error(
                    "worker_restarting",
                    worker=thread.name,
                    in_s=round(delay, 1),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
                stop.wait(delay)

    return run


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
