"""The dispatcher against a real database, with the shipped in-memory channel standing in for
email so each decision is visible: takeovers, unknown incidents, our own defects."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels.errors import Throttled
from channels.in_memory import InMemoryChannel
from incident.adapters.tables import DeliveryAttempt, Incident, Notice
from incident.domain.model import NoticeJob
from incident.rendering import Renderer
from incident.service.compose import Composer
from incident.service.directory import save_people
from incident.service.dispatch import ChannelLimits, Dispatcher, Topics
from incident.settings import DispatchSettings, templates_dir

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
KEY = "I1:p1:email:1"


def EmailStandIn() -> InMemoryChannel:
    return InMemoryChannel("email", "email")


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, dict[str, Any]]] = []

    def publish_all(self, topic: str, items: Any) -> int:
        items = list(items)
        self.published += [(topic, key, payload) for key, payload in items]
        return len(items)


def seed(engine: Engine) -> None:
    with Session(engine) as s:
        save_people(
            s,
            [
                {
                    "id": "p1",
                    "name": "Anna",
                    "email": "anna@example.com",
                    "country": "NL",
                    "locale": "nl",
                }
            ],
        )
        s.add(
            Incident(
                id="I1",
                title="Leak",
                severity="high",
                status="enriched",
                description={"en": "d"},
                impact={"en": "i"},
                measures_taken={"en": "m"},
                measures_planned={"en": "p"},
                advice={"en": ""},
                remedies={"en": "r"},
                categories=["contact"],
                aware_at=NOW,
            )
        )
        s.commit()
        s.add(
            Notice(
                incident_id="I1",
                addressee_id="p1",
                person_id="p1",
                recipient_id="p1",
                status="pending",
            )
        )
        s.commit()


def dispatcher(
    engine: Engine, channel: InMemoryChannel, publisher: RecordingPublisher
) -> Dispatcher:
    composer = Composer(
        Renderer(templates_dir()), message_domain="example.org", message_key=b"test-message-key"
    )
    return Dispatcher(
        engine,
        {"email": channel},
        composer,
        settings=DispatchSettings(claim_lease_seconds=60, max_tries=3),
        publisher=publisher,
        topics=Topics("notices", "notices.retry"),
        worker_id="w-new",
        clock=lambda: NOW,
    )


async def test_a_notice_another_worker_is_sending_is_looked_at_again_when_its_lease_ends(
    engine: Engine,
) -> None:
    seed(engine)
    claimed = NOW - timedelta(seconds=5)  # a worker that may have died five seconds ago
    with Session(engine) as s:
        s.add(
            DeliveryAttempt(
                idempotency_key=KEY,
                incident_id="I1",
                addressee_id="p1",
                person_id="p1",
                channel="email",
                notice_version=1,
                status="sending",
                message_id="m@example.org",
                worker_id="w-dead",
                claimed_at=claimed,
            )
        )
        s.commit()
    channel, publisher = EmailStandIn(), RecordingPublisher()
    await dispatcher(engine, channel, publisher).handle([NoticeJob("I1", "p1", 1)])
    assert channel.sent == []
    [(topic, key, payload)] = publisher.published
    assert (topic, key) == ("notices.retry", "p1")
    assert datetime.fromisoformat(payload["not_before"]) == claimed + timedelta(seconds=60)


async def test_a_job_for_an_unknown_incident_is_skipped_without_stopping_the_dispatcher(
    engine: Engine,
) -> None:
    seed(engine)
    channel, publisher = EmailStandIn(), RecordingPublisher()
    result = await dispatcher(engine, channel, publisher).handle([NoticeJob("NOPE", "p1", 1)])
    assert (result.skipped, result.sent) == (1, 0)


async def test_our_own_defect_while_sending_is_retried_not_recorded_as_a_refusal(
    engine: Engine,
) -> None:
    seed(engine)
    channel, publisher = EmailStandIn(), RecordingPublisher()
    channel.fail_for("anna@example.com", RuntimeError("bug in a template filter"))
    result = await dispatcher(engine, channel, publisher).handle([NoticeJob("I1", "p1", 1)])
    with Session(engine) as s:
        attempt = s.get(DeliveryAttempt, KEY)
    assert result.retried == 1
    assert attempt is not None and attempt.status == "retry"
    assert "internal error: RuntimeError" in (attempt.error or "")


class StalledChannel(InMemoryChannel):
    """A relay that accepts the connection and then never answers."""

    def __init__(self) -> None:
        super().__init__("email", "email")

    async def deliver(self, msg: Any) -> Any:
        await asyncio.sleep(3600)


async def test_a_batch_still_unconfirmed_near_the_end_of_its_lease_is_recorded_as_a_retry(
    engine: Engine,
) -> None:
    seed(engine)
    publisher = RecordingPublisher()
    composer = Composer(
        Renderer(templates_dir()), message_domain="example.org", message_key=b"test-message-key"
    )
    slow = Dispatcher(
        engine,
        {"email": StalledChannel()},
        composer,
        settings=DispatchSettings(claim_lease_seconds=0.5),
        publisher=publisher,
        topics=Topics("notices", "notices.retry"),
        worker_id="w-slow",
        clock=lambda: NOW,
    )
    result = await slow.handle([NoticeJob("I1", "p1", 1)])
    with Session(engine) as s:
        attempt = s.get(DeliveryAttempt, KEY)
    assert result.retried == 1
    assert attempt is not None and attempt.status == "retry"
    assert "claim lease" in (attempt.error or "")


async def test_a_throttled_channel_slows_its_bucket_and_the_notice_waits_without_a_try(
    engine: Engine,
) -> None:
    """A 429 is the provider's limit, not the person's fault: no try spent, breaker closed,
    the (channel, sender) bucket runs at half its rate."""
    seed(engine)
    channel, publisher = EmailStandIn(), RecordingPublisher()
    channel.fail_for("anna@example.com", Throttled, times=1)
    composer = Composer(
        Renderer(templates_dir()), message_domain="example.org", message_key=b"test-message-key"
    )
    limited = Dispatcher(
        engine,
        {"email": channel},
        composer,
        settings=DispatchSettings(processes=2),
        publisher=publisher,
        topics=Topics("notices", "notices.retry"),
        worker_id="w-limited",
        clock=lambda: NOW,
        limits={"email": ChannelLimits(concurrency=4, rate_limit_per_second=200.0)},
    )
    result = await limited.handle([NoticeJob("I1", "p1", 1)])
    with Session(engine) as s:
        attempt = s.get(DeliveryAttempt, KEY)
    assert attempt is not None and (attempt.status, attempt.tries) == ("retry", 0)
    assert (result.held, limited.breakers["email"].state) == (1, "closed")
    bucket = limited._buckets["email"]
    assert (bucket.rate, bucket.current) == (100.0, 50.0)  # 200/s over 2 processes, halved
    result = await limited.handle([NoticeJob("I1", "p1", 1)])
    assert result.sent == 1 and len(channel.sent) == 1


async def test_a_notice_failing_the_content_check_is_held_not_sent_and_spends_no_try(
    engine: Engine,
) -> None:
    seed(engine)
    with Session(engine) as s:
        incident = s.get(Incident, "I1")
        assert incident is not None
        incident.description = {"en": ""}  # the law asks what happened: this says nothing
        s.add(incident)
        s.commit()
    channel, publisher = EmailStandIn(), RecordingPublisher()
    result = await dispatcher(engine, channel, publisher).handle([NoticeJob("I1", "p1", 1)])
    with Session(engine) as s:
        attempt = s.get(DeliveryAttempt, KEY)
    assert channel.attempts == [] and result.sent == 0
    assert attempt is not None and attempt.status == "retry" and attempt.tries == 0
    assert "'description'" in (attempt.error or "") and "'nl'" in (attempt.error or "")
    assert attempt.not_before == NOW + timedelta(seconds=600)
