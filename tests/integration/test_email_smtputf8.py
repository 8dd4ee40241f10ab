"""EmailChannel and mailboxes with a UTF-8 local part (RFC 6531 SMTPUTF8, RFC 6532 headers)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from channels.base import RenderedMessage
from channels.email import NO_SMTPUTF8, EmailChannel
from channels.errors import RecipientRejected
from tests.support.smtp import RecordingSMTPServer


def _channel(server: RecordingSMTPServer) -> EmailChannel:
    return EmailChannel(
        hostname=server.host,
        port=server.port,
        sender="Security Team <security@example.org>",
        username=server.username,
        password=server.password,
        ca_file=server.ca_file,
        timeout=5.0,
    )


def _notice(recipient: str, n: int = 1) -> RenderedMessage:
    return RenderedMessage(
        recipient=recipient,
        locale="zh",
        subject="重要通知",
        body_text="请立即更改密码。\n",
        idempotency_key=f"inc-1:p-{n}:email:1",
        message_id=f"inc-1.p-{n}.email.1@notices.example.org",
    )


async def test_a_utf8_mailbox_is_sent_with_smtputf8_when_the_relay_offers_it(
    smtputf8_server: RecordingSMTPServer,
) -> None:
    """Envelope and To header carry the raw UTF-8 local part; the domain goes as A-labels."""
    ch = _channel(smtputf8_server)
    try:
        await ch.deliver(_notice("用户@例子.广告"))
        await ch.deliver(_notice("ascii@example.com", 2))  # plain mail on the same relay
    finally:
        await ch.aclose()

    utf8, plain = smtputf8_server.messages
    assert utf8.rcpt_tos == ("用户@xn--fsqu00a.xn--4rr70v",)
    assert "SMTPUTF8" in utf8.mail_options
    msg = email.message_from_bytes(utf8.data, policy=email.policy.SMTPUTF8)
    assert isinstance(msg, EmailMessage)
    assert str(msg["To"]) == "用户@xn--fsqu00a.xn--4rr70v"
    assert msg["Subject"] == "重要通知"
    assert "SMTPUTF8" not in plain.mail_options  # ASCII mailboxes never ask for it


async def test_a_utf8_mailbox_is_rejected_for_this_recipient_when_the_relay_lacks_smtputf8(
    smtp_server: RecordingSMTPServer,
) -> None:
    """A verdict on this recipient on this relay (next channel), not a fault of the channel."""
    ch = _channel(smtp_server)
    try:
        with pytest.raises(RecipientRejected) as caught:
            await ch.deliver(_notice("josé@example.com"))
        assert caught.value.reason == NO_SMTPUTF8
        assert type(caught.value) is RecipientRejected
        await ch.deliver(_notice("jose@example.com", 2))
        assert len(ch._idle) == 1  # the session was pooled, not dropped, and reused
    finally:
        await ch.aclose()

    [got] = smtp_server.messages
    assert got.rcpt_tos == ("jose@example.com",)
