"""Issue 23, item 12: PII in logs. With every log level at DEBUG, the embedded SMTP server and
the libraries that see message bodies log nothing of them; the redaction patterns catch a phone
number that ends a sentence and leave IPv4 addresses alone."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from channels.base import RenderedMessage
from channels.email import EmailChannel
from channels.local_smtp import LocalMaildirServer
from incident.log import BODY_LOGGERS, REDACTED, _scrub, configure_logging


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("call +31 20 555 0100.", f"call {REDACTED}."),
        ("call +31 20 555 0100. Then hang up", f"call {REDACTED}. Then hang up"),
        ("mobile +31612345678.", f"mobile {REDACTED}."),
        ("(+1 415 555 2671), thanks", f"({REDACTED}), thanks"),
        ("relay 192.168.100.200 refused", "relay 192.168.100.200 refused"),
        ("database 10.0.0.1:5432 gone", "database 10.0.0.1:5432 gone"),
        ("listening on 127.0.0.1.", "listening on 127.0.0.1."),
        ("from 100.64.0.1 to +44 20 7946 0958.", f"from 100.64.0.1 to {REDACTED}."),
        ("at 2026-05-01T09:00:00+00:00", "at 2026-05-01T09:00:00+00:00"),
        ("mail jan@example.nl.", f"mail {REDACTED}."),
    ],
)
def test_the_redaction_patterns(text: str, scrubbed: str) -> None:
    assert _scrub(text) == scrubbed


def test_loggers_that_see_bodies_stay_at_warning_whatever_the_level() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=stream, libraries="debug")
    for name in BODY_LOGGERS:
        logging.getLogger(name).debug("Dear Jan Jansen, %s", name)
        logging.getLogger(f"{name}.child").info("Dear Jan Jansen, %s", name)
        logging.getLogger(name).warning("warned %s", name)
    logging.getLogger("kafka.conn").debug("library debug still shown")
    text = stream.getvalue()
    assert "Jan Jansen" not in text
    assert all(f"warned {name}" in text for name in BODY_LOGGERS)
    assert "library debug still shown" in text


async def test_the_embedded_smtp_server_logs_nothing_of_a_message_at_debug(
    tmp_path: Path,
) -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=stream, libraries="debug")
    name, secret = "Griet Verhoeven-Oudshoorn", "Uw wachtwoord is gelekt op de derde verdieping"
    with LocalMaildirServer(tmp_path / "mail") as server:
        channel = EmailChannel(
            hostname=server.host, port=server.port, sender="security@example.org", start_tls=False
        )
        await channel.deliver(
            RenderedMessage(
                recipient="griet@example.nl",
                locale="nl",
                subject=f"Beste {name}",
                body_text=f"Beste {name},\n\n{secret}.\n",
                body_html=f"<p>Beste {name}, {secret}.</p>",
                idempotency_key="INC-1:p1:email:1",
                message_id="m1@notices.example.org",
            )
        )
        await channel.aclose()
        assert server.count == 1
    structlog.get_logger().debug("after", note="the stream is live")
    text = stream.getvalue()
    assert "the stream is live" in text
    leaked = [s for s in (name, "Verhoeven", secret, "griet@example.nl") if s in text]
    assert leaked == [], [json.loads(line) for line in text.splitlines() if "Griet" in line][:3]
