"""Logs never carry contact details or notice text."""

from __future__ import annotations

import io
import json

import structlog

from incident.log import configure_logging


def test_pii_fields_and_pii_looking_text_are_redacted_in_json_logs() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    structlog.get_logger().info(
        "delivery_failed",
        recipient="jan@example.nl",
        body_text="Dear Jan",
        error="550 5.1.1 <jan@example.nl>: unknown user; call +31 20 555 0100",
        incident_id="INC-20260306-ABCDEF01",
        tries=3,
    )
    line = json.loads(stream.getvalue())
    assert line["recipient"] == line["body_text"] == "[redacted]"
    assert "jan@example.nl" not in stream.getvalue()
    assert "555 0100" not in stream.getvalue()
    assert line["incident_id"] == "INC-20260306-ABCDEF01"
    assert line["tries"] == 3
