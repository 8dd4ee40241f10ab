"""Email against aiosmtpd with STARTTLS and AUTH (tests/support/smtp.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes
from pathlib import Path

from channels.base import BuildContext, ContactPointData
from channels.email import EmailSettings, build_email
from tests.contract.cases import ChannelCase, Peer
from tests.support.smtp import RecordingSMTPServer


@asynccontextmanager
async def _peer() -> AsyncIterator[Peer]:
    server = RecordingSMTPServer()
    server.start()
    server.refuse("gone@example.com")
    settings = EmailSettings(
        host=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        start_tls=True,
        ca_file=server.ca_file,
        timeout=5.0,
    )

    channel = build_email(settings, BuildContext(Path("."), "example.org"))

    def received() -> list[str]:
        return [str(message_from_bytes(m.data)["Message-ID"]) for m in server.messages]

    @asynccontextmanager
    async def take_down() -> AsyncIterator[None]:
        server.close()
        yield

    try:
        yield Peer(channel, received, take_down)
    finally:
        await channel.aclose()
        server.close()


CASE = ChannelCase(
    name="email",
    good=ContactPointData("email", "anna@example.com"),
    refused=ContactPointData("email", "gone@example.com"),
    peer=_peer,
)
