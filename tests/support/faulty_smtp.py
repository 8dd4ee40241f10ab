"""SMTP peers that misbehave on purpose, for the fault suite.

`FaultySMTPServer` is the recording STARTTLS + AUTH server with two switches: refuse every
MAIL FROM with 530 (a relay that wants another authentication: a misconfiguration) and take
`data_delay` seconds over each message (a slow relay). `BusyGreeter` owns a port and answers
every connection with `421` at the greeting, then hangs up (a relay shedding load).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.local_smtp import ClosingController
from tests.support.smtp import RecordingSMTPServer, _Handler

__all__ = ["BusyGreeter", "FaultySMTPServer"]


class _FaultyHandler(_Handler):
    def __init__(self, server: FaultySMTPServer) -> None:
        super().__init__(server)
        self._faulty = server

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._faulty.refusing_mail():
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._faulty.data_delay:
            await asyncio.sleep(self._faulty.data_delay)
        return await super().handle_DATA(server, session, envelope)


class FaultySMTPServer(RecordingSMTPServer):
    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host=host, port=port)
        self.data_delay = 0.0
        self.mail_refusals = 0  # how many MAIL FROM were answered 530
        self._refuse_until = 0.0

    def refuse_mail_for(self, seconds: float) -> None:
        """Answer 530 to every MAIL FROM for the next `seconds`."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds

    def refusing_mail(self) -> bool:
        with self._lock:
            refusing = time.monotonic() < self._refuse_until
            self.mail_refusals += refusing
            return refusing

    def start(self) -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(tls)
        self._controller = ClosingController(
            _FaultyHandler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",
            tls_context=tls,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
        )
        self._controller.start()


class BusyGreeter:
    """Listens on `port` and answers each connection `421 ... busy` at the greeting."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.greeted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    async def _greet(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.greeted += 1
        writer.write(b"421 4.3.2 relay.example.org busy, try again later\r\n")
        try:
            await writer.drain()
        finally:
            writer.close()

    def start(self) -> BusyGreeter:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._greet, self.host, self.port, reuse_address=True)
                )
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="busy-greeter", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=5):
            raise TimeoutError("the busy greeter did not start in 5 s")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None or self._thread is None:
            return

        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=5)
        self._loop = self._server = self._thread = None
