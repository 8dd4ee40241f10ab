"""A real SMTP server for tests: aiosmtpd on loopback with STARTTLS required and AUTH.

Load the fixture with `pytest_plugins = ["tests.support.smtp"]` (or import `smtp_server`).
The server runs in its own thread (aiosmtpd's Controller), so recordings are lock-protected.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from channels.local_smtp import ClosingController, free_port

__all__ = ["Received", "RecordingSMTPServer", "free_port", "smtp_server", "smtputf8_server"]

USERNAME = "notifier"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # the message as the server got it (CRLF line ends, dot-unstuffed)
    mail_options: tuple[str, ...] = ()  # MAIL FROM parameters (SMTPUTF8, BODY=8BITMIME)


class _Handler:
    def __init__(self, server: RecordingSMTPServer) -> None:
        self._server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        verdict = self._server._verdict(address)
        if verdict is None:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return verdict

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        number = self._server._record(
            Received(
                str(envelope.mail_from),
                tuple(envelope.rcpt_tos),
                content,
                tuple(envelope.mail_options),
            )
        )
        return f"250 2.0.0 Ok: queued as Q{number}"


class RecordingSMTPServer:
    """STARTTLS + AUTH (PLAIN/LOGIN) server recording every accepted message."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int | None = None, smtputf8: bool = False
    ) -> None:
        self.host = host
        self.smtputf8 = smtputf8  # advertise SMTPUTF8 (RFC 6531) after EHLO
        self.port = port or free_port(host)
        self.username, self.password = USERNAME, PASSWORD
        self.ca = trustme.CA()
        self._cert = self.ca.issue_cert("localhost", host)
        self._tmp = tempfile.TemporaryDirectory(prefix="smtp-ca-")
        self.ca_file = str(Path(self._tmp.name) / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._refused: set[str] = set()
        self._deferred: dict[str, tuple[int, int]] = {}
        self._controller: ClosingController | None = None

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def refuse(self, address: str) -> None:
        """Answer 550 to RCPT TO this address from now on."""
        with self._lock:
            self._refused.add(address.lower())

    def defer(self, address: str, times: int = 1, *, code: int = 451) -> None:
        """Answer `code` (451, 452...) to RCPT TO this address for the next `times` attempts."""
        with self._lock:
            self._deferred[address.lower()] = (times, code)

    def start(self) -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(tls)
        self._controller = ClosingController(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",  # skips socket.getfqdn()
            tls_context=tls,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
            enable_SMTPUTF8=self.smtputf8,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> None:
        """Stop (dropping every client connection) and start again on the same port."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.username.encode()
            and data.password == self.password.encode()
        )
        # handled=False: aiosmtpd then answers 535 itself (handled=True would mean "already
        # answered" and leave the client waiting for a reply that never comes).
        return AuthResult(success=ok, handled=ok)

    def _verdict(self, address: str) -> str | None:
        key = address.lower()
        with self._lock:
            if key in self._refused:
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            times, code = self._deferred.get(key, (0, 451))
            if times > 0:
                self._deferred[key] = (times - 1, code)
                return f"{code} 4.3.0 Temporary failure, try again later"
        return None

    def _record(self, received: Received) -> int:
        with self._lock:
            self._messages.append(received)
            return len(self._messages)


@pytest.fixture
def smtp_server() -> Iterator[RecordingSMTPServer]:
    server = RecordingSMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def smtputf8_server() -> Iterator[RecordingSMTPServer]:
    """The same server, advertising SMTPUTF8 (and, as aiosmtpd always does, 8BITMIME)."""
    server = RecordingSMTPServer(smtputf8=True)
    server.start()
    try:
        yield server
    finally:
        server.close()
