"""Which SMTP replies are the relay's problem (ChannelFault) and which are the recipient's.

Every case runs against a real server on loopback: aiosmtpd (STARTTLS + AUTH) for replies inside
a session, a plain asyncio server for greetings and for implicit TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trustme

from channels.base import RenderedMessage
from channels.email import EmailChannel
from channels.errors import ChannelFault, ChannelTimeout, RecipientDeferred, RecipientRejected
from tests.support.smtp import RecordingSMTPServer

Session = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _notice(recipient: str = "person@example.com") -> RenderedMessage:
    return RenderedMessage(
        recipient=recipient,
        locale="en",
        subject="Important notice",
        body_text="Please change your password.\n",
        idempotency_key="inc-1:p-1:email:1",
        message_id="inc-1.p-1.email.1@notices.example.org",
    )


def _channel(server: RecordingSMTPServer, **overrides: object) -> EmailChannel:
    options: dict[str, object] = {
        "hostname": server.host,
        "port": server.port,
        "sender": "security@example.org",
        "username": server.username,
        "password": server.password,
        "ca_file": server.ca_file,
        "timeout": 5.0,
    }
    options.update(overrides)
    return EmailChannel(**options)  # type: ignore[arg-type]


@asynccontextmanager
async def _raw_server(session: Session, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A loopback TCP server running `session` per client; yields its port."""
    tasks: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        tasks.append(asyncio.ensure_future(session(reader, writer)))

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in writers:
            writer.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        server.close()
        await server.wait_closed()


def _greeting(line: bytes) -> Session:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(line + b"\r\n")
        await writer.drain()
        await reader.read()  # until the client hangs up

    return session


@pytest.mark.parametrize(
    "greeting",
    [b"421 4.3.2 mx.example.org Service not available", b"554 5.3.2 No SMTP service here"],
)
async def test_a_refusing_greeting_is_a_channel_fault(greeting: bytes) -> None:
    """421/554 instead of 220 says nothing about the recipient: the relay is unusable."""
    async with _raw_server(_greeting(greeting)) as port:
        ch = EmailChannel(hostname="127.0.0.1", port=port, sender="s@example.org", timeout=2.0)
        with pytest.raises(ChannelFault, match=greeting[:3].decode()) as caught:
            await ch.deliver(_notice())
        await ch.aclose()
    assert not isinstance(caught.value, ChannelTimeout)
    assert ch._idle == []


async def test_530_at_mail_from_without_credentials_is_a_channel_fault(
    smtp_server: RecordingSMTPServer,
) -> None:
    """aiosmtpd with auth_required answers MAIL FROM with 530: our configuration is wrong."""
    ch = _channel(smtp_server, username=None, password=None)
    with pytest.raises(ChannelFault, match=r"authentication required \(530\)"):
        await ch.deliver(_notice())
    await ch.aclose()
    assert smtp_server.messages == []


async def test_550_at_rcpt_is_recipient_rejected(smtp_server: RecordingSMTPServer) -> None:
    smtp_server.refuse("gone@example.com")
    ch = _channel(smtp_server)
    with pytest.raises(RecipientRejected, match="550"):
        await ch.deliver(_notice("gone@example.com"))
    await ch.aclose()


@pytest.mark.parametrize("code", [450, 451, 452])
async def test_4xx_at_rcpt_is_recipient_deferred(
    smtp_server: RecordingSMTPServer, code: int
) -> None:
    smtp_server.defer("busy@example.com", code=code)
    ch = _channel(smtp_server)
    with pytest.raises(RecipientDeferred, match=str(code)):
        await ch.deliver(_notice("busy@example.com"))
    await ch.deliver(_notice("busy@example.com"))  # the same pooled session, accepted now
    await ch.aclose()
    assert len(smtp_server.messages) == 1


async def test_421_at_rcpt_is_a_channel_fault(smtp_server: RecordingSMTPServer) -> None:
    """421 is the relay closing the session, whatever command it answers."""
    smtp_server.defer("any@example.com", code=421)
    ch = _channel(smtp_server)
    with pytest.raises(ChannelFault, match="421"):
        await ch.deliver(_notice("any@example.com"))
    await ch.aclose()


async def test_an_auth_failure_is_a_channel_fault(smtp_server: RecordingSMTPServer) -> None:
    ch = _channel(smtp_server, password="wrong")
    with pytest.raises(ChannelFault, match=r"authentication failed \(535\)"):
        await ch.deliver(_notice())
    await ch.aclose()


async def test_starttls_verification_failure_is_a_channel_fault(
    smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    ch = _channel(smtp_server, ca_file=str(other))
    with pytest.raises(ChannelFault, match=r"TLS failed .*CERTIFICATE_VERIFY_FAILED"):
        await ch.deliver(_notice())
    await ch.aclose()


async def test_implicit_tls_verification_failure_is_a_channel_fault(tmp_path: Path) -> None:
    """On port 465 aiosmtplib wraps the ssl error in SMTPConnectError: still reported as TLS."""
    server_ca, other_ca = trustme.CA(), trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("localhost", "127.0.0.1").configure_cert(tls)
    other_ca.cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))

    async with _raw_server(_greeting(b"220 ready"), tls) as port:
        ch = EmailChannel(
            hostname="127.0.0.1",
            port=port,
            sender="s@example.org",
            use_tls=True,
            ca_file=str(tmp_path / "other-ca.pem"),
            timeout=2.0,
        )
        with pytest.raises(ChannelFault, match=r"TLS failed .*CERTIFICATE_VERIFY_FAILED"):
            await ch.deliver(_notice())
        await ch.aclose()
