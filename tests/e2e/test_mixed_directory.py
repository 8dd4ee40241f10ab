"""The issue's "done when": over a mixed directory (only a phone, only an address, only a push
subscription, invalid numbers, bad addresses, a hard bounce, a provider outage mid-run, a person
who confirms by link) every reachable person is told on the right channels, the plan escalates
and falls back as configured, a confirmation stops the rest of the chain, and only the truly
unreachable are recorded as such, with their reasons.

Real broker, real database, real SMTP server (STARTTLS + AUTH), the loopback Web Push service
(VAPID checked, bodies decrypted), SMS captured as Twilio requests and letters as a print run."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import AffectedPerson, DeliveryAttempt, Notice
from incident.domain.model import AttemptStatus
from incident.entrypoints.workers import wait_until
from incident.service.progress import channel_outcomes, unreachable_reasons
from incident.service.receipts import apply_receipt
from tests.e2e.harness import (
    make_settings,
    outage_after,
    push_service,
    raise_for,
    runtime,
    seed,
    wait_settled,
    workers,
)
from tests.support.smtp import RecordingSMTPServer

# Email, then push, then SMS, one at a time on a recipient's verdict; a letter as well 10 s
# later unless the person confirmed (the incident is `high`). Someone with nothing usable in
# the first step gets the letter at once.
ROUTING = """
[severity.high]
steps = [
  { channels = ["email", "push", "sms"], mode = "first" },
  { channels = ["letter"], after = "10s", unless = "confirmed" },
]
"""
ADDRESS = {"street": "Damrak 1", "city": "Amsterdam", "postal_code": "1012 LG", "country": "NL"}
NO_POSTCODE = {**ADDRESS, "postal_code": ""}
BULK = 40  # people with only an email address, told through the outage


def person(pid: str, **contacts: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"Person {pid}",
        "email": None,
        "phone": None,
        "locale": "nl",
        "country": "NL",
        "region": None,
        "postal_address": {},
        "is_minor": False,
        "guardian_id": None,
        "birth_date": None,
        "channel_preferences": [],
        **contacts,
    }


def _vapid_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _attempts(rt: Any, incident_id: str) -> dict[str, dict[str, DeliveryAttempt]]:
    with Session(rt.engine) as s:
        rows = s.exec(
            select(DeliveryAttempt).where(
                DeliveryAttempt.incident_id == incident_id,
                DeliveryAttempt.addressee_kind == "person",
            )
        ).all()
    by_person: dict[str, dict[str, DeliveryAttempt]] = defaultdict(dict)
    for a in rows:
        by_person[a.addressee_id][a.channel] = a
    return by_person


def _timers_done(rt: Any, incident_id: str) -> bool:
    """No escalation timer, claim or retry left open for a person."""
    open_ = {"scheduled", "sending", "retry"}
    return not any(
        a.status in open_ for chans in _attempts(rt, incident_id).values() for a in chans.values()
    )


def _confirm_when_sent(rt: Any, incident_id: str, pid: str) -> str:
    """The person clicks the link in their email: a confirmation for that email's attempt."""

    def sent() -> bool:
        email = _attempts(rt, incident_id).get(pid, {}).get("email")
        return email is not None and email.status == "sent"

    assert wait_until(sent, timeout=30), _attempts(rt, incident_id).get(pid)
    key = _attempts(rt, incident_id)[pid]["email"].idempotency_key
    apply_receipt(
        rt.engine,
        status=AttemptStatus.CONFIRMED,
        source="confirmation_link",
        key=key,
        now=datetime.now(UTC),
    )
    return key


def test_a_mixed_directory_is_told_on_the_right_channels_and_only_the_unreachable_are_not(
    database_url: str,
    kafka_broker: LocalBroker,
    smtp_server: RecordingSMTPServer,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING)
    settings = make_settings(
        database_url,
        kafka_broker,
        smtp_server,
        fallback_chain=["email", "push", "sms", "letter"],
        routing_file=str(routing),
        sweep_after_seconds=1.0,
    )
    with push_service() as push:
        settings.channels.update(
            sms={"capture_dir": str(tmp_path / "sms"), "from_number": "+15005550006"},
            letter={"drop_folder": str(tmp_path / "letters")},
            push={
                "vapid_private_key": _vapid_pem(),
                "vapid_subject": "mailto:security@example.org",
                "timeout": 5.0,
                "allowed_hosts": [f"127.0.0.1:{push.port}"],
            },
            announcement={"web_root": str(tmp_path / "public")},
            regulator={"export_dir": str(tmp_path / "reports")},
        )
        sub = push.subscribe()
        subscription = {"endpoint": sub.value, "keys": sub.details["keys"]}
        rows = [person(f"bulk{i:03d}", email=f"bulk{i:03d}@example.com") for i in range(BULK)]
        rows += [
            person("phone-only", phone="+31612345678"),
            person("address-only", postal_address=ADDRESS),
            person("push-only", push_subscriptions=[subscription]),
            person("bad-number-with-address", phone="+31 12", postal_address=ADDRESS),
            person("bad-number-only", phone="+31 12"),
            person("bad-address-only", postal_address=NO_POSTCODE),
            person("nothing-on-file"),
            person("bounces", email="gone@example.com", phone="+31612345679"),
            person("confirms", email="confirms@example.com", postal_address=ADDRESS),
            person("no-reply", email="no-reply@example.com", postal_address=ADDRESS),
        ]
        smtp_server.refuse("gone@example.com")  # 550 at RCPT: a hard bounce
        outage = outage_after(smtp_server, 5, seconds=3.0)  # the relay goes away mid-run
        with runtime(settings) as rt, workers(rt):
            seed(rt, rows)
            incident_id = raise_for(rt, [r["id"] for r in rows])
            confirmed_key = _confirm_when_sent(rt, incident_id, "confirms")
            wait_settled(rt, incident_id, len(rows), timeout=60)
            assert outage.back.wait(timeout=30), "the SMTP server never came back"
            assert wait_until(lambda: _timers_done(rt, incident_id), timeout=40)
            attempts = _attempts(rt, incident_id)
            outcomes = channel_outcomes(rt.engine, incident_id)
            groups = unreachable_reasons(rt.engine, incident_id)
            with Session(rt.engine) as s:
                notices = {
                    n.addressee_id: n
                    for n in s.exec(
                        select(Notice).where(
                            Notice.incident_id == incident_id, Notice.addressee_kind == "person"
                        )
                    )
                }
                problems = {
                    a.person_id: a.contact_problems
                    for a in s.exec(
                        select(AffectedPerson).where(AffectedPerson.incident_id == incident_id)
                    )
                }
        pushed = push.for_point(sub)

    def told_on(pid: str) -> dict[str, str]:
        return {ch: a.status for ch, a in attempts.get(pid, {}).items()}

    # Everyone with a usable email address was told by email, the outage notwithstanding.
    for i in range(BULK):
        pid = f"bulk{i:03d}"
        assert told_on(pid) == {"email": "sent"}, (pid, told_on(pid))
        assert notices[pid].status == "sent"
    delivered_to = {m.rcpt_tos[0] for m in smtp_server.messages}
    assert 5 <= outage.accepted_before < BULK, outage  # it went down with emails still to send
    assert {f"bulk{i:03d}@example.com" for i in range(BULK)} <= delivered_to
    # One at a time along the plan's first step, falling back on a verdict only.
    assert told_on("phone-only") == {"sms": "sent"}
    assert told_on("push-only") == {"push": "sent"}
    assert len(pushed) == 1 and pushed[0].claims["sub"] == "mailto:security@example.org"
    assert told_on("bounces") == {"email": "failed", "sms": "sent"}
    assert notices["bounces"].channel == "sms"
    assert "gone@example.com" not in delivered_to
    # Nothing usable in the first step: the letter goes out at once.
    assert told_on("address-only") == {"letter": "sent"}
    assert told_on("bad-number-with-address") == {"letter": "sent"}
    assert "phone" in problems["bad-number-with-address"]
    # Escalation: email first, a letter 10 s later for who did not confirm ...
    assert told_on("no-reply") == {"email": "sent", "letter": "sent"}
    # ... and nothing more for who did: the letter's timer was cancelled.
    assert told_on("confirms")["email"] == "confirmed"
    assert told_on("confirms").get("letter") in (None, "cancelled")
    assert notices["confirms"].status == "confirmed"
    assert attempts["confirms"]["email"].idempotency_key == confirmed_key
    letters = list((tmp_path / "letters").rglob("*.pdf"))
    assert len(letters) == 3, letters  # address-only, bad-number-with-address, no-reply
    sms = list((tmp_path / "sms").glob("*.json"))
    assert len(sms) == 2, sms  # phone-only, bounces
    # Only the truly unreachable are unreachable, each with their reason.
    unreachable = {pid: n.reason or "" for pid, n in notices.items() if n.status == "unreachable"}
    assert set(unreachable) == {"bad-number-only", "bad-address-only", "nothing-on-file"}
    assert "sms: phone" in unreachable["bad-number-only"]
    assert problems["bad-number-only"]["phone"] in unreachable["bad-number-only"]
    assert "postal_code is required for NL" in unreachable["bad-address-only"]
    for channel_reason in ("email missing", "push missing", "phone missing", "postal missing"):
        assert channel_reason in unreachable["nothing-on-file"], unreachable["nothing-on-file"]
    # What `breachnotice demo` shows per channel, read back from the same records.
    assert (outcomes["email"].sent, outcomes["email"].failed) == (BULK + 2, 1)
    assert outcomes["email"].confirmed == 1
    assert (outcomes["sms"].sent, outcomes["sms"].fallbacks) == (2, 1)  # bounces moved on
    assert (outcomes["push"].sent, outcomes["letter"].sent) == (1, 3)
    assert outcomes["letter"].fallbacks == 0  # escalation and routing, not a verdict
    assert sum(g.count for g in groups) == 3
    assert {pid for g in groups for pid in g.examples} == set(unreachable)
    assert time.monotonic() - started < 90
