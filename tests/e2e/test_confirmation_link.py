"""User story: a person opens the confirmation link in the email they received; the later,
costlier step of their plan (a letter) is cancelled. Real broker, database, SMTP server and
the HTTP listener `serve` runs; the link is read from the email the server got."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from incident.adapters.local_broker import LocalBroker
from incident.adapters.tables import DeliveryAttempt
from incident.entrypoints.callback_server import start_callback_server
from incident.entrypoints.workers import wait_until
from incident.settings import CallbackSettings, ConfirmationSettings
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed, workers
from tests.support.links import follow, links_in, text_of
from tests.support.smtp import RecordingSMTPServer, free_port

ROUTING = """
[severity.high]
steps = [
  { channels = ["email"] },
  { channels = ["letter"], after = "48h", unless = "confirmed" },
]
"""
ADDRESS = {"street": "Damrak 1", "postal_code": "1012 LG", "city": "Amsterdam"}


@pytest.mark.slow
def test_the_link_in_a_received_email_confirms_and_cancels_the_letter_still_to_come(
    sqlite_url: str, kafka_broker: LocalBroker, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    port = free_port()
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING)
    base = make_settings(
        sqlite_url, kafka_broker, smtp_server, fallback_chain=["email", "letter"],
        routing_file=str(routing),
    )  # fmt: skip
    prefix = f"http://127.0.0.1:{port}/notices/confirm/"
    settings = base.model_copy(
        update={
            "callbacks": CallbackSettings(port=port),
            "confirmation": ConfirmationSettings(
                base_url=prefix + "{token}", secret=base.confirmation.secret
            ),
            "channels": {**base.channels, "letter": {"drop_folder": str(tmp_path / "letters")}},
            "out_dir": tmp_path / "out",
        }
    )
    rows = [{**row, "postal_address": ADDRESS} for row in people(3)]
    with runtime(settings) as rt, workers(rt):
        stop_http = start_callback_server(rt)
        assert stop_http is not None
        try:
            seed(rt, rows)
            incident_id = raise_for(rt, [r["id"] for r in rows])
            assert wait_until(lambda: len(smtp_server.messages) >= 3, timeout=90)
            texts = {m.rcpt_tos[0]: text_of(m.data) for m in smtp_server.messages}
            links = {to: links_in(text, prefix) for to, text in texts.items()}
            assert all(len(found) == 1 for found in links.values()), links  # one personal link each
            assert len({found[0] for found in links.values()}) == 3
            status, page = follow(links["p0000@example.com"][0])
            assert status == 200, page
        finally:
            stop_http()

        def letters() -> dict[str, str]:
            with Session(rt.engine) as s:
                rows_ = s.exec(
                    select(DeliveryAttempt).where(
                        DeliveryAttempt.incident_id == incident_id,
                        DeliveryAttempt.channel == "letter",
                    )
                ).all()
                return {a.addressee_id: a.status for a in rows_}

        assert wait_until(lambda: letters().get("p0000") == "cancelled", timeout=30), letters()
        with Session(rt.engine) as s:
            email = s.exec(
                select(DeliveryAttempt).where(
                    DeliveryAttempt.addressee_id == "p0000", DeliveryAttempt.channel == "email"
                )
            ).one()
        assert email.status == "confirmed"
        assert letters()["p0001"] == "scheduled"  # nobody else's plan moved
