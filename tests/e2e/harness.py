"""Run the real pipeline for a test: real broker, real database, real SMTP server, threads."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlmodel import Session

from incident.adapters.local_broker import LocalBroker
from incident.bootstrap import Runtime, start_runtime
from incident.domain.incident_spec import parse_incident_spec
from incident.entrypoints.workers import run_all, wait_until
from incident.service.approval import approve_incident
from incident.service.directory import save_people
from incident.service.intake import raise_incident
from incident.service.progress import NoticeCounts, notice_counts
from incident.settings import KafkaSettings, Settings
from tests.support.push_endpoint import PushEndpoint
from tests.support.smtp import RecordingSMTPServer

LOCALES = ["en", "nl", "de", "fr", "es", "pt", "zh", "ja"]


def make_settings(
    database_url: str, broker: LocalBroker, smtp: RecordingSMTPServer, **dispatch: Any
) -> Settings:
    """Unique topics and consumer groups per test, so tests share one broker safely."""
    tag = secrets.token_hex(3)
    kafka = KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers,
        incidents_topic=f"incidents.{tag}",
        notices_topic=f"notices.{tag}",
        retry_topic=f"notices.retry.{tag}",
        dead_topic=f"notices.dead.{tag}",
        enricher_group=f"enricher.{tag}",
        dispatcher_group=f"dispatcher.{tag}",
        notices_partitions=4,
        instance_id=f"test-{tag}",
    )
    mail = {
        "host": smtp.host,
        "port": smtp.port,
        "username": smtp.username,
        "password": smtp.password,
        "start_tls": True,
        "ca_file": smtp.ca_file,
        "sender": "Security Team <security@example.org>",
        "concurrency": 4,
    }
    return Settings(
        database_url=database_url,
        database_auto_upgrade=True,
        kafka=kafka,
        channels={"email": mail},
        confirmation={"secret": secrets.token_hex(32)},  # outside --embedded: never made up
        dispatch={
            "batch_size": 100,
            "retry_base_seconds": 0.2,
            "sweep_after_seconds": 3.0,
            "breaker_base_cooldown_seconds": 0.2,
            "breaker_max_cooldown_seconds": 2.0,
            **dispatch,
        },
    )


def people(n: int, *, prefix: str = "p", email: bool = True) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i:04d}",
            "name": f"Person {prefix}{i}",
            "email": f"{prefix}{i:04d}@example.com" if email else None,
            "phone": f"+3161234{i:04d}",
            "locale": LOCALES[i % len(LOCALES)],
            "country": "NL",
            "region": None,
            "postal_address": {},
            "is_minor": False,
            "guardian_id": None,
            "birth_date": None,
            "channel_preferences": [],
        }
        for i in range(n)
    ]


def incident_spec(person_ids: list[str], **overrides: Any) -> Any:
    return parse_incident_spec(
        {
            "title": "Customer database accessed",
            "severity": "high",
            "categories": ["contact", "credentials"],
            "aware_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "description": {
                "en": "An attacker read the accounts table.",
                "nl": "Een aanvaller las de accountstabel.",
            },
            "impact": "Phishing attempts are possible.",
            "measures_taken": "We revoked the key.",
            "measures_planned": "We will add hardware keys.",
            "remedies": "Twelve months of free identity monitoring.",
            "contact": {"email": "privacy@example.org"},
            "scope": {"people": person_ids},
            **overrides,
        }
    )


def seed(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    with Session(rt.engine) as session:
        save_people(session, rows)
        session.commit()


REPORTER, APPROVER = "riley.reporter", "avery.approver"


def raise_for(rt: Runtime, person_ids: list[str]) -> str:
    """Raised by one person and approved by a second, as every fan-out needs."""
    return approved(rt, raise_draft(rt, incident_spec(person_ids)))


def raise_draft(rt: Runtime, spec: Any) -> str:
    return raise_incident(
        rt.engine,
        spec,
        topic=rt.settings.kafka.incidents_topic,
        now=datetime.now(UTC),
        reporter=REPORTER,
        approval=rt.settings.approval,
    )


def approved(rt: Runtime, incident_id: str) -> str:
    topic = rt.settings.kafka.incidents_topic
    approve_incident(rt.engine, incident_id, by=APPROVER, topic=topic, now=datetime.now(UTC))
    return incident_id


@contextmanager
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = start_runtime(settings, embedded_ok=False)
    try:
        yield rt
    finally:
        rt.close()


@contextmanager
def workers(rt: Runtime, *, dispatchers: int = 1) -> Iterator[threading.Event]:
    stop = threading.Event()
    threads = run_all(rt, stop, dispatchers=dispatchers)
    try:
        yield stop
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        crashed = [t.name for t in threads if getattr(t, "crashed", False)]
        assert not crashed, f"workers crashed: {crashed}"


def wait_settled(rt: Runtime, incident_id: str, expected: int, timeout: float = 60) -> NoticeCounts:
    def settled() -> bool:
        counts = notice_counts(rt.engine, incident_id)
        return counts.affected == expected and counts.done

    assert wait_until(settled, timeout=timeout), notice_counts(rt.engine, incident_id)
    return notice_counts(rt.engine, incident_id)


def parsed(smtp: RecordingSMTPServer) -> list[EmailMessage]:
    return [
        message_from_bytes(m.data, policy=policy.default)  # type: ignore[misc]
        for m in smtp.messages
    ]


def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as BREACHNOTICE_* environment variables, for a subprocess."""
    env: dict[str, str] = {}

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                flatten(f"{prefix}__{key}".upper() if prefix else key.upper(), inner)
        elif isinstance(value, list):
            env[f"BREACHNOTICE_{prefix}"] = json.dumps(value)
        elif value is not None:
            env[f"BREACHNOTICE_{prefix}"] = str(value)

    flatten("", settings.model_dump(mode="json"))
    return env


@contextmanager
def push_service() -> Iterator[PushEndpoint]:
    """The loopback Web Push service (tests/support/push_endpoint.py) on its own event loop
    thread, for tests whose workers are threads; `subscribe()` may be called from the test."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="push-service", daemon=True)
    thread.start()
    endpoint = PushEndpoint()
    try:
        asyncio.run_coroutine_threadsafe(endpoint.start(), loop).result(timeout=10)
        yield endpoint
    finally:
        asyncio.run_coroutine_threadsafe(endpoint.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass
class Outage:
    """An SMTP outage in progress or over: `back` is set once the server is up again."""

    back: threading.Event = field(default_factory=threading.Event)
    accepted_before: int = 0  # messages the server had accepted when it went down


def outage_after(smtp: RecordingSMTPServer, messages: int, *, seconds: float) -> Outage:
    """Take the SMTP server down (dropping every connection) once it has accepted `messages`
    messages, and bring it back on the same port `seconds` later."""
    outage = Outage()
    record = smtp._record
    fired = threading.Lock()

    def go_down() -> None:
        outage.accepted_before = len(smtp.messages)
        smtp.stop()
        time.sleep(seconds)
        smtp.start()
        outage.back.set()

    def counting(received: Any) -> int:
        number = record(received)
        if number >= messages and fired.acquire(blocking=False):
            threading.Thread(target=go_down, name="smtp-outage", daemon=True).start()
        return number

    smtp._record = counting  # type: ignore[method-assign]
    return outage
