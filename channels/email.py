"""Email over SMTP (aiosmtplib): pooled persistent connections, STARTTLS, AUTH, prebuilt MIME.

Each notice's bytes come from `channels.mime.build_message` and go out with `sendmail`; building
an EmailMessage per notice would cap the sender near 1,000/s (shared/PERFORMANCE.md).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import ClassVar, cast

import aiosmtplib

from channels.base import Channel, Receipt, RenderedMessage
from channels.errors import (
    ChannelTimeout,
    PermanentChannelError,
    RecipientRejected,
    TransientChannelError,
)
from channels.mime import address_problem, ascii_address, build_message

_NAME = "email"


class EmailChannel(Channel):
    name: ClassVar[str] = _NAME
    contact_kind: ClassVar[str] = "email"

    def __init__(
        self,
        *,
        hostname: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        use_tls: bool = False,
        validate_certs: bool = True,
        ca_file: str | None = None,
        timeout: float = 30.0,
        pool_size: int = 8,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._sender = sender
        self._sender_addr = ascii_address(parseaddr(sender)[1])
        if address_problem(self._sender_addr) is not None:
            raise ValueError(f"sender is not a usable address: {sender!r}")
        self._hostname, self._port, self._timeout = hostname, port, timeout
        self._username, self._password = username, password
        self._start_tls, self._use_tls = start_tls, use_tls
        self._validate_certs, self._ca_file = validate_certs, ca_file
        self.pool_size = pool_size
        self._idle: list[aiosmtplib.SMTP] = []  # connected, authenticated, not in use
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def recipient_problem(cls, recipient: str | None) -> str | None:
        return address_problem(recipient)

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        if problem := address_problem(msg.recipient):
            raise RecipientRejected(_NAME, problem)
        try:
            data = build_message(
                sender=self._sender,
                recipient=msg.recipient,
                subject=msg.subject or "",
                text=msg.body_text,
                html=msg.body_html,
                message_id=msg.message_id,
                headers=msg.headers,
            )
        except ValueError as exc:
            raise PermanentChannelError(_NAME, f"cannot build the message: {exc}") from exc
        with _mapped_errors(msg.recipient):
            reply = await self._send(ascii_address(msg.recipient), data)
        return Receipt(
            channel=_NAME,
            idempotency_key=msg.idempotency_key,
            provider_id=reply or msg.message_id,
            accepted_at=datetime.now(UTC),
        )

    async def deliver_many(
        self, msgs: Sequence[RenderedMessage], *, concurrency: int | None = None
    ) -> list[Receipt | BaseException]:
        """One worker per pooled connection by default, each taking the next unsent message."""
        results: list[Receipt | BaseException | None] = [None] * len(msgs)
        pending = iter(enumerate(msgs))

        async def worker() -> None:
            for i, msg in pending:
                try:
                    results[i] = await self.deliver(msg)
                except Exception as exc:  # returned in place, like asyncio.gather
                    results[i] = exc

        workers = min(len(msgs), concurrency or self.pool_size)
        await asyncio.gather(*(worker() for _ in range(workers)))
        return cast(list[Receipt | BaseException], results)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            await _quit(smtp)

    def _new_smtp(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self._hostname,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            use_tls=self._use_tls,
            validate_certs=self._validate_certs,
            cert_bundle=self._ca_file,
            timeout=self._timeout,
        )

    async def _send(self, recipient: str, data: bytes) -> str:
        if self._slots is None:  # created on first use, inside the running event loop
            self._slots = asyncio.Semaphore(self.pool_size)
        async with self._slots:
            smtp = self._idle.pop() if self._idle else self._new_smtp()
            try:
                reply = await self._sendmail(smtp, recipient, data)
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
                # A refusal inside the transaction: sendmail has sent RSET, the session is fine.
                if smtp.is_connected:
                    self._idle.append(smtp)
                raise
            except BaseException:
                # Mid-transaction, timed out or broken: never hand this session to anyone else.
                smtp.close()
                raise
            self._idle.append(smtp)
            return reply

    async def _sendmail(self, smtp: aiosmtplib.SMTP, recipient: str, data: bytes) -> str:
        reused = smtp.is_connected
        if not reused:
            await self._connect(smtp)
        try:
            _, reply = await smtp.sendmail(self._sender_addr, [recipient], data)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # An idle session the server dropped (restart, idle timeout) before we noticed:
            # reconnect once. A retry is no riskier than the dispatcher's own retry would be.
            smtp.close()
            await self._connect(smtp)
            _, reply = await smtp.sendmail(self._sender_addr, [recipient], data)
        return reply

    @staticmethod
    async def _connect(smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.connect()  # EHLO, STARTTLS and AUTH as configured
        except BaseException:
            smtp.close()  # a half-open, unauthenticated session must not be pooled
            raise


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    if not smtp.is_connected:
        return
    try:
        await smtp.quit(timeout=2.0)
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


@contextmanager
def _mapped_errors(recipient: str) -> Iterator[None]:
    """Translate aiosmtplib/ssl/socket errors into the ChannelError tree, most specific first."""
    try:
        yield
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0]
        # Servers echo the address; reasons end up in logs, which never carry contact details.
        said = refused.message.replace(recipient, "[recipient]")
        if refused.code >= 500:
            raise RecipientRejected(_NAME, f"recipient refused: {refused.code} {said}") from exc
        raise TransientChannelError(_NAME, f"recipient deferred: {refused.code} {said}") from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        reason = f"authentication failed ({exc.code}); misconfiguration: check username/password"
        raise PermanentChannelError(_NAME, reason) from exc
    except aiosmtplib.SMTPResponseException as exc:
        kind = PermanentChannelError if exc.code >= 500 else TransientChannelError
        said = exc.message.replace(recipient, "[recipient]")
        raise kind(_NAME, f"server replied {exc.code} {said}") from exc
    except (TimeoutError, aiosmtplib.SMTPTimeoutError) as exc:
        raise ChannelTimeout(_NAME, f"timed out: {exc}") from exc
    except ssl.SSLError as exc:
        reason = (
            f"TLS failed ({exc}); misconfiguration: check ca_file / validate_certs "
            "and the server's certificate"
        )
        raise PermanentChannelError(_NAME, reason) from exc
    except aiosmtplib.SMTPNotSupported as exc:
        raise PermanentChannelError(_NAME, f"misconfiguration: {exc}") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise TransientChannelError(_NAME, f"connection problem: {exc}") from exc
