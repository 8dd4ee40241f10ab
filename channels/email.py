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
from typing import cast

import aiosmtplib
from pydantic import Field

from channels.base import (
    BuildContext,
    Channel,
    ChannelSettings,
    ChannelSpec,
    ContactKind,
    ContactPointData,
    Receipt,
    RenderedMessage,
)
from channels.errors import (
    ChannelFault,
    ChannelTimeout,
    MessageRejected,
    RecipientDeferred,
    RecipientRejected,
)
from channels.mime import (
    address_problem,
    build_message,
    needs_smtputf8,
    split_mailbox,
    wire_address,
)

_NAME = "email"
# A fact about this recipient on this relay: the next channel in the chain may reach them.
NO_SMTPUTF8 = "mailbox needs SMTPUTF8, which the relay does not offer"


class EmailSettings(ChannelSettings):
    """`[channels.email]`; an empty host starts the local SMTP server writing out/mail."""

    host: str = ""
    port: int = 587
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    start_tls: bool | None = None  # None: upgrade when the server offers STARTTLS
    use_tls: bool = False  # implicit TLS (port 465)
    validate_certs: bool = True
    ca_file: str | None = None
    sender: str = "Security Team <security@example.org>"
    timeout: float = 30.0
    concurrency: int = Field(default=8, ge=1)  # pooled connections


class EmailChannel(Channel):
    name = _NAME
    contact_kind = ContactKind.EMAIL

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
        sender_addr = split_mailbox(sender)[1]
        if address_problem(sender_addr) is not None or needs_smtputf8(sender_addr):
            raise ValueError(f"sender is not a usable ASCII-local address: {sender!r}")
        self._sender_addr = wire_address(sender_addr)
        self._hostname, self._port, self._timeout = hostname, port, timeout
        self._username, self._password = username, password
        self._start_tls, self._use_tls = start_tls, use_tls
        self._validate_certs, self._ca_file = validate_certs, ca_file
        self.pool_size = pool_size
        self._idle: list[aiosmtplib.SMTP] = []  # connected, authenticated, not in use
        self._slots: asyncio.Semaphore | None = None

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
            raise MessageRejected(_NAME, f"cannot build the message: {exc}") from exc
        wire = wire_address(msg.recipient)
        with _mapped_errors(msg.recipient, wire):
            reply = await self._send(wire, data, utf8=needs_smtputf8(wire))
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
        # A TLS session closed after a failure (AUTH refused, a broken session) finishes closing
        # its socket on a later turn of the loop: give it that turn before the loop may end.
        await asyncio.sleep(0.05)

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

    async def _send(self, recipient: str, data: bytes, *, utf8: bool) -> str:
        if self._slots is None:  # created on first use, inside the running event loop
            self._slots = asyncio.Semaphore(self.pool_size)
        async with self._slots:
            smtp = self._idle.pop() if self._idle else self._new_smtp()
            try:
                reply = await self._sendmail(smtp, recipient, data, utf8)
            except (
                aiosmtplib.SMTPRecipientsRefused,
                aiosmtplib.SMTPResponseException,
                RecipientRejected,
            ):
                # A refusal inside the transaction: sendmail has sent RSET, the session is fine
                # (or, without SMTPUTF8, no transaction was started).
                if smtp.is_connected:
                    self._idle.append(smtp)
                raise
            except BaseException:
                # Mid-transaction, timed out or broken: never hand this session to anyone else.
                smtp.close()
                raise
            self._idle.append(smtp)
            return reply

    async def _sendmail(
        self, smtp: aiosmtplib.SMTP, recipient: str, data: bytes, utf8: bool
    ) -> str:
        reused = smtp.is_connected
        if not reused:
            await self._connect(smtp)
        try:
            return await self._transaction(smtp, recipient, data, utf8)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # An idle session the server dropped (restart, idle timeout) before we noticed:
            # reconnect once. A retry is no riskier than the dispatcher's own retry would be.
            smtp.close()
            await self._connect(smtp)
            return await self._transaction(smtp, recipient, data, utf8)

    async def _transaction(
        self, smtp: aiosmtplib.SMTP, recipient: str, data: bytes, utf8: bool
    ) -> str:
        options: list[str] = []
        if utf8:  # a UTF-8 local part: envelope and To header carry raw UTF-8 (RFC 6531/6532)
            if not smtp.supports_extension("smtputf8"):
                raise RecipientRejected(_NAME, NO_SMTPUTF8)
            # The To header holds 8-bit octets; declare them where the relay allows (as smtplib).
            options = ["SMTPUTF8"]
            if smtp.supports_extension("8bitmime"):
                options.append("BODY=8BITMIME")
        _, reply = await smtp.sendmail(self._sender_addr, [recipient], data, mail_options=options)
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
def _mapped_errors(*recipient: str) -> Iterator[None]:
    """Translate aiosmtplib/ssl/socket errors into the ChannelError tree, most specific first.

    Only a reply to RCPT TO (or to the DATA of a one-recipient transaction) is about the
    recipient; anything at connect, EHLO, STARTTLS, AUTH or MAIL FROM is about the relay, and
    so are 421 (closing) and 530 (authentication required) whenever they come."""

    def said(message: str) -> str:  # servers echo the address; reasons reach logs
        for form in recipient:
            message = message.replace(form, "[recipient]")
        return message

    try:
        yield
    except aiosmtplib.SMTPRecipientsRefused as exc:
        code, text = exc.recipients[0].code, said(exc.recipients[0].message)
        if code in (421, 530):
            raise ChannelFault(_NAME, f"relay refused service: {code} {text}") from exc
        if code >= 500:
            raise RecipientRejected(_NAME, f"recipient refused: {code} {text}") from exc
        raise RecipientDeferred(_NAME, f"recipient deferred: {code} {text}") from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        reason = f"authentication failed ({exc.code}); misconfiguration: check username/password"
        raise ChannelFault(_NAME, reason) from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        if exc.code == 530:
            reason = (
                f"authentication required ({exc.code}); misconfiguration: set username/password"
            )
            raise ChannelFault(_NAME, reason) from exc
        raise ChannelFault(_NAME, f"sender refused: {exc.code} {exc.message}") from exc
    except aiosmtplib.SMTPDataError as exc:
        if exc.code < 500:
            raise ChannelFault(
                _NAME, f"relay refused the data: {exc.code} {said(exc.message)}"
            ) from exc
        raise MessageRejected(_NAME, f"message refused: {exc.code} {said(exc.message)}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        # Connect (greeting), EHLO, STARTTLS, AUTH or RSET: every reply here is about the relay.
        raise ChannelFault(_NAME, f"relay replied {exc.code} {said(exc.message)}") from exc
    except (TimeoutError, aiosmtplib.SMTPTimeoutError) as exc:
        raise ChannelTimeout(_NAME, f"timed out: {exc}") from exc
    except ssl.SSLError as exc:
        raise ChannelFault(_NAME, _tls_failed(exc)) from exc
    except aiosmtplib.SMTPNotSupported as exc:
        raise ChannelFault(_NAME, f"misconfiguration: {exc}") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        if isinstance(exc.__cause__, ssl.SSLError):  # implicit TLS: wrapped by connect()
            raise ChannelFault(_NAME, _tls_failed(exc.__cause__)) from exc
        raise ChannelFault(_NAME, f"connection problem: {exc}") from exc


def _tls_failed(exc: ssl.SSLError) -> str:
    return (
        f"TLS failed ({exc}); misconfiguration: check ca_file / validate_certs "
        "and the server's certificate"
    )


def check_email(point: ContactPointData) -> str | None:
    return address_problem(point.value)


def build_email(settings: EmailSettings, ctx: BuildContext) -> EmailChannel:
    return EmailChannel(
        hostname=settings.host,
        port=settings.port,
        sender=settings.sender,
        username=settings.username,
        password=settings.password,
        start_tls=settings.start_tls,
        use_tls=settings.use_tls,
        validate_certs=settings.validate_certs,
        ca_file=settings.ca_file,
        timeout=settings.timeout,
        pool_size=settings.concurrency,
    )


def embedded_email(settings: EmailSettings, ctx: BuildContext) -> EmailSettings:
    """The local SMTP server writing a Maildir under out/mail, for demo and development."""
    from channels.local_smtp import LocalMaildirServer

    server = LocalMaildirServer(ctx.out_dir / "mail")
    server.start()
    ctx.on_close(server.stop)
    return settings.model_copy(
        update={
            "host": server.host,
            "port": server.port,
            "start_tls": False,
            "username": None,
            "password": None,
        }
    )


SPEC = ChannelSpec(
    name=_NAME,
    settings_model=EmailSettings,
    factory=build_email,
    contact_kinds=(ContactKind.EMAIL,),
    template_parts=("subject", "text", "html"),
    check=check_email,
    embedded=embedded_email,
    needs_provider=lambda settings: not settings.host,
)
