"""Fixtures of the fault suite: an SMTP server whose faults a test switches on and off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.faulty_smtp import FaultySMTPServer


@pytest.fixture
def faulty_smtp() -> Iterator[FaultySMTPServer]:
    server = FaultySMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.close()
