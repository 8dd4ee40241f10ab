"""Escalation through `Dispatcher.handle` against a real database: timers are rows, so a new
dispatcher (a restart) fires them when due, found by the sweep; unneeded steps are cancelled."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from channels.in_memory import InMemoryChannel
from incident.adapters.tables import DeliveryAttempt, Incident, Notice
from incident.domain.escalation import Routing, parse_routing
from incident.domain.model import AttemptStatus, NoticeJob
from incident.rendering import Renderer
from incident.service.compose import Composer
from incident.service.directory import save_people
from incident.service.dispatch import Dispatcher, Topics
from incident.service.receipts import apply_receipt
from incident.service.sweep import sweep_stale
from incident.settings import DispatchSettings, templates_dir

T0 = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
JOB = NoticeJob("I1", "p1", 1)
ROUTING = """
[severity.critical]
steps = [
  { channels = ["email", "sms"] },
  { channels = ["voice"], after = "4h", unless = "delivered" },
  { channels = ["letter"], after = "48h", unless = "confirmed" },
]
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, dict[str, Any]]] = []

    def publish_all(self, topic: str, items: Any) -> int:
        items = list(items)
        self.published += [(topic, key, payload) for key, payload in items]
        return len(items)


def seed(engine: Engine, severity: str = "critical") -> None:
    with Session(engine) as s:
        person = {
            "id": "p1",
            "name": "Anna",
            "email": "anna@example.com",
            "phone": "+31612345678",
            "postal_address": {"street": "Dam 1", "postal_code": "1012 JS", "city": "Amsterdam"},
            "country": "NL",
            "locale": "nl",
        }
        save_people(s, [person])
        s.add(
            Incident(
                id="I1",
                title="Leak",
                severity=severity,
                status="enriched",
                description={"en": "d"},
                impact={"en": "i"},
                measures_taken={"en": "m"},
                measures_planned={"en": "p"},
                advice={"en": ""},
                remedies={"en": "r"},
                categories=["contact"],
                aware_at=T0,
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
                created_at=T0,
            )
        )
        s.commit()


def channels() -> dict[str, InMemoryChannel]:
    kinds = {"email": "email", "sms": "phone", "voice": "phone", "letter": "postal"}
    return {name: InMemoryChannel(name, kind) for name, kind in kinds.items()}


def start(
    engine: Engine, clock: Clock, chans: dict[str, InMemoryChannel], worker: str
) -> Dispatcher:
    """A dispatcher as a fresh process builds it: nothing in memory but its configuration."""
    return Dispatcher(
        engine,
        chans,
        Composer(
            Renderer(templates_dir()), message_domain="example.org", message_key=b"test-message-key"
        ),
        settings=DispatchSettings(fallback_chain=["email", "sms", "voice", "letter"]),
        publisher=RecordingPublisher(),
        topics=Topics("notices", "notices.retry"),
        worker_id=worker,
        clock=clock,
        routing=routing(),
    )


def routing() -> Routing:
    return parse_routing(tomllib.loads(ROUTING), source="test", known=channels())


def attempts(engine: Engine) -> dict[str, tuple[str, datetime | None]]:
    with Session(engine) as s:
        rows = s.exec(select(DeliveryAttempt)).all()
        return {a.channel: (a.status, a.not_before) for a in rows}


def notice_status(engine: Engine) -> str:
    with Session(engine) as s:
        notice = s.exec(select(Notice)).one()
        return notice.status


def sweep(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    publisher = RecordingPublisher()
    sweep_stale(
        engine,
        publisher,
        topic="notices",
        now=now,
        older_than=timedelta(seconds=120),
        lease=timedelta(seconds=60),
    )
    return [payload for _, _, payload in publisher.published]


def deliver(engine: Engine, channel: str, status: AttemptStatus, now: datetime) -> None:
    key = f"I1:p1:{channel}:1"
    apply_receipt(engine, status=status, source="provider_callback", now=now, key=key)


async def test_a_timer_row_survives_a_restart_and_fires_when_due(engine: Engine) -> None:
    """Email and SMS at once; after a restart the voice call goes out at 4 h, the letter at
    48 h, each found by the sweep from its row."""
    seed(engine)
    clock, first = Clock(), channels()
    result = await start(engine, clock, first, "w-1").handle([JOB])
    assert [len(first[ch].sent) for ch in ("email", "sms", "voice", "letter")] == [1, 1, 0, 0]
    assert attempts(engine) == {
        "email": ("sent", None),
        "sms": ("sent", None),
        "voice": ("scheduled", T0 + 4 * H),
        "letter": ("scheduled", T0 + 48 * H),
    }
    assert notice_status(engine) == "sent"
    assert result.later == []  # hours away: the row is the timer, not the dispatcher's memory

    # the process dies; a new one starts with nothing in memory
    clock.now, second = T0 + 3 * H, channels()
    restarted = start(engine, clock, second, "w-2")
    assert sweep(engine, clock.now) == []  # no timer due yet
    await restarted.handle([JOB])  # a stray job changes nothing
    assert second["voice"].sent == []

    clock.now = T0 + 4 * H + timedelta(seconds=1)
    assert sweep(engine, clock.now) == [
        {"incident_id": "I1", "addressee_id": "p1", "notice_version": 1}
    ]
    result = await restarted.handle([JOB])
    assert (result.sent, len(second["voice"].sent)) == (1, 1)
    assert attempts(engine)["voice"][0] == "sent"
    assert sweep(engine, clock.now + 10 * H) == []  # fired: nothing more until the letter

    deliver(engine, "email", AttemptStatus.DELIVERED, T0 + 5 * H)
    clock.now = T0 + 48 * H
    assert len(sweep(engine, clock.now)) == 1
    await start(engine, clock, second, "w-3").handle([JOB])
    assert len(second["letter"].sent) == 1  # delivered is not confirmed: the letter goes
    assert notice_status(engine) == "delivered"  # a later step never takes it back to sent
    with Session(engine) as s:
        tries = s.exec(select(DeliveryAttempt.channel, DeliveryAttempt.tries)).all()
    assert dict(tries) == {"email": 1, "sms": 1, "voice": 1, "letter": 1}


async def test_steps_are_cancelled_when_delivered_and_confirmed_in_time(engine: Engine) -> None:
    seed(engine)
    clock, chans = Clock(), channels()
    dispatcher = start(engine, clock, chans, "w-1")
    await dispatcher.handle([JOB])
    deliver(engine, "sms", AttemptStatus.DELIVERED, T0 + H)
    clock.now = T0 + 4 * H
    assert len(sweep(engine, clock.now)) == 1
    await dispatcher.handle([JOB])
    assert chans["voice"].sent == []
    assert attempts(engine)["voice"][0] == "cancelled"

    deliver(engine, "sms", AttemptStatus.CONFIRMED, T0 + 5 * H)
    clock.now = T0 + 48 * H
    await dispatcher.handle([JOB])
    assert chans["letter"].sent == []
    assert attempts(engine)["letter"][0] == "cancelled"
    assert notice_status(engine) == "confirmed"
    assert sweep(engine, T0 + 100 * H) == []  # no timer left: the sweep never loops on it


async def test_when_everything_earlier_came_back_the_next_step_does_not_wait(
    engine: Engine,
) -> None:
    """Email bounced, the SMS came back undelivered (which retires the phone number, so no
    call either): the letter goes at once instead of after 48 h."""
    seed(engine)
    clock, chans = Clock(), channels()
    dispatcher = start(engine, clock, chans, "w-1")
    await dispatcher.handle([JOB])
    clock.now = T0 + timedelta(minutes=10)
    deliver(engine, "email", AttemptStatus.BOUNCED, clock.now)
    deliver(engine, "sms", AttemptStatus.UNDELIVERED, clock.now)
    assert notice_status(engine) == "pending"
    result = await dispatcher.handle([JOB])
    assert (len(chans["voice"].sent), len(chans["letter"].sent)) == (0, 1)
    assert attempts(engine)["voice"][0] == "cancelled"
    assert (notice_status(engine), result.unreachable) == ("sent", 0)


async def test_one_channel_coming_back_leaves_the_notice_told_by_the_other(
    engine: Engine,
) -> None:
    """The email bounced but the SMS went out: the notice stays sent and the call still waits
    for its 4 h (the SMS may yet be delivered)."""
    seed(engine)
    clock, chans = Clock(), channels()
    dispatcher = start(engine, clock, chans, "w-1")
    await dispatcher.handle([JOB])
    clock.now = T0 + timedelta(minutes=10)
    deliver(engine, "email", AttemptStatus.BOUNCED, clock.now)
    await dispatcher.handle([JOB])  # the job the return requeued
    assert notice_status(engine) == "sent"
    assert attempts(engine)["voice"] == ("scheduled", T0 + 4 * H)
    assert chans["voice"].sent == []


async def test_a_severity_without_a_plan_keeps_the_fallback_chain(engine: Engine) -> None:
    seed(engine, severity="high")
    clock, chans = Clock(), channels()
    await start(engine, clock, chans, "w-1").handle([JOB])
    assert [len(chans[ch].sent) for ch in ("email", "sms", "voice", "letter")] == [1, 0, 0, 0]
    assert attempts(engine) == {"email": ("sent", None)}


async def test_a_message_refused_by_voice_moves_on_without_retiring_the_phone_for_sms(
    engine: Engine,
) -> None:
    """ "Script too long" is a verdict on the message, not on the number: SMS still uses it."""
    from channels.errors import MessageRejected
    from incident.adapters.tables import ContactPoint

    seed(engine, severity="high")
    clock, chans = Clock(), channels()
    chans["voice"].fail_for("+31612345678", MessageRejected("voice", "script too long"))
    dispatcher = Dispatcher(
        engine,
        chans,
        Composer(
            Renderer(templates_dir()), message_domain="example.org", message_key=b"test-message-key"
        ),
        settings=DispatchSettings(fallback_chain=["voice", "sms"]),
        publisher=RecordingPublisher(),
        topics=Topics("notices", "notices.retry"),
        worker_id="w-1",
        clock=clock,
        routing=routing(),
    )
    for _ in range(3):  # the refusal, then the next channel of the chain
        await dispatcher.handle([JOB])
    assert len(chans["voice"].attempts) == 1 and chans["voice"].sent == []
    assert [m.recipient for m in chans["sms"].sent] == ["+31612345678"]
    assert attempts(engine)["voice"][0] == "failed" and attempts(engine)["sms"][0] == "sent"
    with Session(engine) as s:
        phones = s.exec(select(ContactPoint).where(ContactPoint.kind == "phone")).all()
    assert phones and all(p.problem is None for p in phones)
