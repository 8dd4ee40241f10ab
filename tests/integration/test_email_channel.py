"""EmailChannel against a real SMTP server on loopback (STARTTLS required, AUTH)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
import trustme

from channels import REGISTRY
from channels.base import Receipt, RenderedMessage
from channels.email import EmailChannel
from channels.errors import (
    ChannelFault,
    ChannelTimeout,
    RecipientDeferred,
    RecipientRejected,
)
from tests.support.smtp import RecordingSMTPServer, free_port

# The `smtp_server` fixture comes from tests.support.smtp, loaded by tests/conftest.py.

SENDER = "Équipe Sécurité <security@example.org>"


def _channel(server: RecordingSMTPServer, **overrides: object) -> EmailChannel:
    options: dict[str, object] = {
        "hostname": server.host,
        "port": server.port,
        "sender": SENDER,
        "username": server.username,
        "password": server.password,
        "ca_file": server.ca_file,
        "timeout": 5.0,
    }
    options.update(overrides)
    return EmailChannel(**options)  # type: ignore[arg-type]


@pytest.fixture
async def channel(smtp_server: RecordingSMTPServer) -> AsyncIterator[EmailChannel]:
    ch = _channel(smtp_server)
    yield ch
    await ch.aclose()


def _notice(n: int = 1, recipient: str | None = None) -> RenderedMessage:
    return RenderedMessage(
        recipient=recipient or f"person{n}@example.com",
        locale="de",
        subject="Wichtig: Sicherheitsvorfall betrifft Ihre Daten",
        body_text=f"Sehr geehrte Person {n},\n\nÄndern Sie Ihr Passwort.\n",
        body_html=f"<p>Sehr geehrte Person {n},</p><p>Ändern Sie Ihr Passwort.</p>",
        idempotency_key=f"inc-1:p-{n}:email:1",
        message_id=f"inc-1.p-{n}.email.1@notices.example.org",
        headers={"X-Incident-Ref": "INC-1"},
    )


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_email_is_the_registered_email_channel() -> None:
    spec = REGISTRY["email"]
    assert spec.contact_kinds == ("email",)
    assert spec.template_parts == ("subject", "text", "html")


async def test_a_notice_is_sent_over_starttls_with_auth_and_arrives_intact(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    receipt = await channel.deliver(_notice(7))

    assert isinstance(receipt, Receipt)
    assert receipt.idempotency_key == "inc-1:p-7:email:1"
    assert receipt.provider_id == "2.0.0 Ok: queued as Q1"
    [got] = smtp_server.messages
    assert got.mail_from == "security@example.org"
    assert got.rcpt_tos == ("person7@example.com",)
    msg = _parse(got.data)
    assert msg["Message-ID"] == "<inc-1.p-7.email.1@notices.example.org>"
    assert msg["Subject"] == "Wichtig: Sicherheitsvorfall betrifft Ihre Daten"
    assert msg["From"] == SENDER
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Incident-Ref"] == "INC-1"
    assert msg["List-Unsubscribe"] is None
    plain, html = msg.iter_parts()
    assert plain.get_content().replace("\r\n", "\n") == _notice(7).body_text
    assert html.get_content_type() == "text/html"
    assert "Ändern Sie Ihr Passwort." in html.get_content()


async def test_two_hundred_notices_over_the_pool_arrive_exactly_once(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    notices = [_notice(n) for n in range(200)]

    results = await channel.deliver_many(notices)

    assert all(isinstance(r, Receipt) for r in results)
    assert [r.idempotency_key for r in results if isinstance(r, Receipt)] == [
        n.idempotency_key for n in notices
    ]
    ids = sorted(_parse(m.data)["Message-ID"] for m in smtp_server.messages)
    assert ids == sorted(f"<{n.message_id}>" for n in notices)
    assert len(channel._idle) == channel.pool_size  # every pooled connection did work


async def test_a_refused_recipient_raises_recipient_rejected_and_keeps_the_pool_usable(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    smtp_server.refuse("gone@example.com")

    with pytest.raises(RecipientRejected) as caught:
        await channel.deliver(_notice(recipient="gone@example.com"))

    assert "550" in caught.value.reason
    assert "gone@example.com" not in str(caught.value)  # reasons reach logs: no contact details
    await channel.deliver(_notice(2))
    assert [m.rcpt_tos for m in smtp_server.messages] == [("person2@example.com",)]


async def test_a_451_is_transient_and_the_retry_succeeds(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    smtp_server.defer("busy@example.com", times=1)

    with pytest.raises(RecipientDeferred, match="451"):
        await channel.deliver(_notice(recipient="busy@example.com"))
    await channel.deliver(_notice(recipient="busy@example.com"))

    assert len(smtp_server.messages) == 1


async def test_a_syntactically_bad_address_is_rejected_without_contacting_the_server(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    with pytest.raises(RecipientRejected, match="malformed: no @"):
        await channel.deliver(_notice(recipient="not-an-address"))
    assert channel._idle == []


async def test_a_server_certificate_from_an_unknown_ca_is_a_clear_permanent_error(
    smtp_server: RecordingSMTPServer, tmp_path: object
) -> None:
    other_ca = trustme.CA()
    bad_ca_file = f"{tmp_path}/other-ca.pem"
    other_ca.cert_pem.write_to_path(bad_ca_file)
    ch = _channel(smtp_server, ca_file=bad_ca_file)

    with pytest.raises(ChannelFault, match=r"TLS failed .*check ca_file"):
        await ch.deliver(_notice())
    await ch.aclose()
    assert smtp_server.messages == []


async def test_wrong_credentials_are_a_permanent_misconfiguration(
    smtp_server: RecordingSMTPServer,
) -> None:
    ch = _channel(smtp_server, password="wrong")

    with pytest.raises(ChannelFault, match=r"authentication failed .*535"):
        await ch.deliver(_notice())
    await ch.aclose()


async def test_a_closed_port_is_transient() -> None:
    ch = EmailChannel(hostname="127.0.0.1", port=free_port(), sender=SENDER, timeout=2.0)
    with pytest.raises(ChannelFault) as caught:
        await ch.deliver(_notice())
    assert not isinstance(caught.value, ChannelTimeout)


async def test_the_pool_reconnects_after_the_server_restarts(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    await channel.deliver_many([_notice(n) for n in range(8)])

    smtp_server.restart()
    results = await channel.deliver_many([_notice(n) for n in range(8, 16)])

    assert all(isinstance(r, Receipt) for r in results)
    assert len(smtp_server.messages) == 16


def test_constructing_the_channel_opens_no_connection() -> None:
    ch = EmailChannel(hostname="192.0.2.1", port=25, sender="a@example.org")  # TEST-NET: unroutable
    assert ch._idle == []


async def test_a_server_that_never_answers_is_a_channel_timeout() -> None:
    handlers: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # accept, never greet, wait for the client to give up

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.ensure_future(silent(reader, writer)))

    server = await asyncio.start_server(track, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ch = EmailChannel(hostname="127.0.0.1", port=port, sender=SENDER, timeout=0.2)
    try:
        with pytest.raises(ChannelTimeout):
            await ch.deliver(_notice())
    finally:
        await ch.aclose()
        for writer in writers:  # close our side too, or its socket outlives the event loop
            writer.close()
        await asyncio.gather(*handlers)
        server.close()
        await server.wait_closed()


async def test_an_internationalised_domain_goes_on_the_envelope_idna_encoded(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    await channel.deliver(_notice(recipient="anna@bücher.de"))
    assert smtp_server.messages[0].rcpt_tos == ("anna@xn--bcher-kva.de",)


async def test_a_sharp_s_domain_goes_on_the_envelope_per_idna_2008(
    smtp_server: RecordingSMTPServer, channel: EmailChannel
) -> None:
    """IDNA 2003 would have mailed anna@strasse.de: a different domain, a different person."""
    await channel.deliver(_notice(recipient="anna@straße.de"))
    [got] = smtp_server.messages
    assert got.rcpt_tos == ("anna@xn--strae-oqa.de",)
    assert _parse(got.data)["To"] == "anna@xn--strae-oqa.de"


async def test_an_invalid_idna_domain_is_rejected_without_contacting_the_server(
    channel: EmailChannel,
) -> None:
    with pytest.raises(RecipientRejected, match=r"not valid IDNA 2008 \(codepoint U\+2603"):
        await channel.deliver(_notice(recipient="anna@☃.net"))
    assert channel._idle == []
