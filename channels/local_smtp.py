"""The embedded-default SMTP server: aiosmtpd on loopback, each accepted message into a Maildir.

Used when no SMTP relay is configured (`breachnotice demo`), so the real EmailChannel code path
runs end to end and the notices can be read with any mail client (`mutt -f out/mail`).
Loopback only, hence no TLS and no AUTH.

Mail with the null reverse path (`MAIL FROM:<>`: bounces and delivery status notifications,
RFC 5321 4.5.5) goes to a second Maildir, `bounces/` beside the mail folder by default, which
`breachnotice email bounces out/bounces` reads.
"""

from __future__ import annotations

import asyncio
import mailbox
import socket
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port(host: str = "127.0.0.1") -> int:
    # aiosmtpd's Controller(port=0) fails its own readiness check: choose the port first.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ClosingController(Controller):
    """A Controller whose stop() also closes the client connections.

    aiosmtpd's stop() cancels the sessions but leaves their sockets to the garbage collector
    (ResourceWarning, and clients that never see the connection drop).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        smtp: SMTP = super().factory()  # type: ignore[no-untyped-call]
        self.sessions.append(smtp)
        return smtp

    def stop(self, no_assert: bool = False) -> None:
        async def drop_all() -> None:
            for smtp in self.sessions:
                if isinstance(smtp.transport, asyncio.WriteTransport):
                    smtp.transport.abort()
            await asyncio.sleep(0.01)  # let connection_lost run and close the sockets

        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(drop_all(), self.loop).result(timeout=5)
        super().stop(no_assert)


class _MaildirHandler:
    def __init__(self, maildir: mailbox.Maildir, bounces: mailbox.Maildir | None = None) -> None:
        self._maildir = maildir
        self._bounces = bounces if bounces is not None else maildir  # a Maildir may be empty
        self._lock = threading.Lock()
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: bytes = envelope.original_content or b""
        sender = (envelope.mail_from or "").removeprefix("<").removesuffix(">")
        # What a local delivery agent adds: the envelope, which the headers may not show.
        trace = f"Return-Path: <{sender}>\r\n" + "".join(
            f"Delivered-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos
        )
        # Maildir files use the local line ending; SMTP delivered CRLF.
        data = (trace.encode("utf-8") + content).replace(b"\r\n", b"\n")
        box = self._maildir if sender else self._bounces  # null sender: a bounce report
        with self._lock:
            key = box.add(data)  # written to tmp/, then renamed into new/
            self.count += 1
        return f"250 2.0.0 Ok: stored as {key}"


class LocalMaildirServer:
    """`start()`, send mail to `host:port`, find each message as a file under `maildir/new/`."""

    def __init__(
        self,
        maildir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        bounce_maildir: Path | None = None,
    ) -> None:
        self.maildir = Path(maildir)
        self.bounce_maildir = Path(bounce_maildir or self.maildir.parent / "bounces")
        self.host = host
        self._requested_port = port
        self.port = port or 0  # the real port once started
        self._handler: _MaildirHandler | None = None
        self._controller: ClosingController | None = None

    @property
    def count(self) -> int:
        """Messages stored since start()."""
        return self._handler.count if self._handler is not None else 0

    def start(self) -> None:
        if self._controller is not None:
            return
        # Maildir(create=True) makes tmp/new/cur only when the root is new: an existing empty
        # folder (say ./out/mail made by hand) would otherwise fail on the first message.
        for root in (self.maildir, self.bounce_maildir):
            for sub in ("tmp", "new", "cur"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        self._handler = _MaildirHandler(
            mailbox.Maildir(self.maildir, create=True),
            mailbox.Maildir(self.bounce_maildir, create=True),
        )
        self.port = self._requested_port or free_port(self.host)
        controller = ClosingController(
            self._handler,
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",  # skips socket.getfqdn(), which can hang without DNS
            enable_SMTPUTF8=True,  # mailboxes with a non-ASCII local part land too
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop serving; safe to call more than once."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[bytes]:
        """The stored messages (for tests and the demo's summary), in no particular order."""
        box = mailbox.Maildir(self.maildir, create=False)
        return [box.get_bytes(key) for key in box.iterkeys()]

    def __enter__(self) -> LocalMaildirServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
