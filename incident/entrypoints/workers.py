"""The three long-running workers: outbox relay, enricher, dispatcher.

Each runs until `stop` is set, finishes the batch in hand, commits its offsets and closes.
Kafka calls block, so each worker owns a thread; the dispatcher runs its sends on an event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlmodel import Session

from incident.adapters.kafka_bus import MessageConsumer, MessageProducer, Record
from incident.adapters.tables import AuditEvent
from incident.bootstrap import Runtime, build_channels, build_composer, contact_checks
from incident.domain.messages import parse_incident_event, parse_notice_job
from incident.domain.model import NoticeJob
from incident.errors import MalformedMessage, NotFound
from incident.service.dispatch import BatchResult, Dispatcher, Topics
from incident.service.enrich import enrich_incident
from incident.service.recovery import resume_from_database
from incident.service.relay import relay_outbox

log = structlog.get_logger()
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class StopFlag(Protocol):
    """A threading.Event or a multiprocessing Event: set once, when the worker should stop."""

    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


def run_relay(rt: Runtime, stop: StopFlag, *, interval: float = 0.2) -> None:
    producer = MessageProducer(rt.settings.kafka, rt.bootstrap_servers)
    try:
        while not stop.is_set():
            with structlog.contextvars.bound_contextvars(stage="relay"):
                if relay_outbox(rt.engine, producer, now=utcnow()) == 0:
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
    events, jobs = resume_from_database(
        rt.engine,
        producer,
        incidents_topic=kafka.incidents_topic,
        notices_topic=kafka.notices_topic,
    )
    if events or jobs:
        log.info("resumed_from_database", stage="enrich", incidents=events, notices=jobs)
    try:
        while not stop.is_set():
            for record in consumer.poll(max_records=10, timeout_ms=500):
                _enrich_one(rt, record, producer, checks)
            consumer.commit()  # only after every polled incident is stored and queued
    finally:
        consumer.close()
        producer.close()


def _enrich_one(rt: Runtime, record: Record, producer: MessageProducer, checks: Any) -> None:
    try:
        event = parse_incident_event(record.value)
    except MalformedMessage as exc:
        _dead_letter(rt, producer, record, f"not an incident event: {exc.reason}")
        return
    incident_id = event.incident_id
    with structlog.contextvars.bound_contextvars(
        stage="enrich", incident_id=incident_id, offset=record.offset
    ):
        try:
            enrich_incident(
                rt.engine,
                event.payload(),
                publisher=producer,
                notices_topic=rt.settings.kafka.notices_topic,
                checks=checks,
                majority_ages=rt.settings.minors,
                now=utcnow(),
            )
        except NotFound as exc:
            _dead_letter(rt, producer, record, str(exc))


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
    worker_id = f"dispatcher-{index}-{uuid.uuid4().hex[:8]}"  # unique per run: owns its claims
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
        build_composer(rt.settings),
        settings=rt.settings.dispatch,
        publisher=producer,
        topics=Topics(kafka.notices_topic, kafka.retry_topic),
        worker_id=worker_id,
        clock=utcnow,
    )
    try:
        while not stop.is_set():
            records = await asyncio.to_thread(
                consumer.poll, max_records=rt.settings.dispatch.batch_size, timeout_ms=200
            )
            if not records:
                continue
            jobs, waiting = _due_jobs(rt, producer, records)
            with structlog.contextvars.bound_contextvars(stage="dispatch", worker=worker_id):
                result = await dispatcher.handle(jobs) if jobs else BatchResult()
            consumer.commit()  # after the batch's results are committed to the database
            if on_batch:
                on_batch(result)
            if waiting and not jobs:
                await asyncio.sleep(min(1.0, waiting))
    finally:
        for channel in channels.values():
            await channel.aclose()
        consumer.close()
        producer.close()


def _due_jobs(
    rt: Runtime, producer: MessageProducer, records: list[Record]
) -> tuple[list[NoticeJob], float]:
    """Jobs due now; retries not yet due go back on the retry topic (a delay loop)."""
    jobs: list[NoticeJob] = []
    later: list[tuple[str, dict[str, Any]]] = []
    now, wait = utcnow(), 0.0
    for record in records:
        try:
            key = record.key.encode() if record.key else None
            parsed = parse_notice_job(key, record.value, now=now)
        except MalformedMessage as exc:
            _dead_letter(rt, producer, record, f"not a notice job: {exc.reason}")
            continue
        job, not_before = parsed.job, parsed.not_before
        if not_before is not None and not_before > now:
            later.append((record.key or job.person_id, parsed.payload()))
            wait = max(wait, (not_before - now).total_seconds())
        else:
            jobs.append(job)
    if later:
        producer.publish_all(rt.settings.kafka.retry_topic, later)
    return jobs, wait


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
    """A worker that dies takes the service down loudly instead of leaving it half-running."""

    def run() -> None:
        try:
            fn(rt, stop)
        except BaseException:
            thread.crashed = True  # type: ignore[attr-defined]
            log.exception("worker_crashed", worker=thread.name)
            stop.set()
            raise

    return run


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
