"""LocalMaildirServer: the embedded default stores what EmailChannel sends as Maildir files."""

from __future__ import annotations

import email
import email.policy
import mailbox
from pathlib import Path

from channels.base import Receipt, RenderedMessage
from channels.email import EmailChannel
from channels.local_smtp import LocalMaildirServer


def _notice(n: int) -> RenderedMessage:
    return RenderedMessage(
        recipient=f"person{n}@example.com",
        locale="zh",
        subject="重要通知：涉及您个人数据的安全事件",
        body_text=f"尊敬的用户 {n}：\n\n请立即更改密码。\n",
        body_html=f"<p>尊敬的用户 {n}：</p>",
        idempotency_key=f"inc-1:p-{n}:email:1",
        message_id=f"n{n}@notices.example.org",
    )


def _channel(server: LocalMaildirServer) -> EmailChannel:
    return EmailChannel(
        hostname=server.host, port=server.port, sender="security@example.org", start_tls=False
    )


async def test_each_accepted_message_becomes_one_maildir_file(tmp_path: Path) -> None:
    maildir = tmp_path / "out" / "mail"
    with LocalMaildirServer(maildir) as server:
        channel = _channel(server)
        results = await channel.deliver_many([_notice(n) for n in range(20)])
        await channel.aclose()

        assert all(isinstance(r, Receipt) for r in results)
        assert server.count == 20
    files = list((maildir / "new").iterdir())
    assert len(files) == 20
    assert list((maildir / "tmp").iterdir()) == []


async def test_stored_messages_keep_their_content_and_envelope(tmp_path: Path) -> None:
    with LocalMaildirServer(tmp_path / "mail") as server:
        channel = _channel(server)
        receipt = await channel.deliver(_notice(3))
        await channel.aclose()
        [raw] = server.messages()

    assert receipt.provider_id is not None and receipt.provider_id.startswith("2.0.0 Ok: stored")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Message-ID"] == "<n3@notices.example.org>"
    assert msg["Subject"] == "重要通知：涉及您个人数据的安全事件"
    assert msg["Return-Path"] == "<security@example.org>"
    assert msg["Delivered-To"] == "person3@example.com"
    assert b"\r\n" not in raw  # Maildir files use local line ends
    plain = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    # The body itself travels base64-encoded in canonical (CRLF) form.
    assert plain.get_content().replace("\r\n", "\n") == _notice(3).body_text
    # Any Maildir reader sees it.
    assert len(mailbox.Maildir(tmp_path / "mail", create=False)) == 1


def test_it_picks_a_free_loopback_port_and_stops_cleanly(tmp_path: Path) -> None:
    server = LocalMaildirServer(tmp_path / "mail")
    server.start()
    try:
        assert server.host == "127.0.0.1"
        assert server.port > 0
    finally:
        server.stop()
    server.stop()  # idempotent
    assert server.count == 0


async def test_a_given_port_is_used_and_the_server_can_be_restarted(tmp_path: Path) -> None:
    first = LocalMaildirServer(tmp_path / "mail")
    first.start()
    port = first.port
    first.stop()

    again = LocalMaildirServer(tmp_path / "mail", port=port)
    with again:
        assert again.port == port
        channel = _channel(again)
        await channel.deliver(_notice(1))
        await channel.aclose()
    assert len(again.messages()) == 1
