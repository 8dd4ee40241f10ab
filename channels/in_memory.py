"""InMemoryChannel: the shipped fake for unit tests (dramatiq's StubBroker, cosmicpython's fakes).

It records what it was asked to deliver and can be told to fail for chosen recipients, so tests
assert on end state (`channel.sent`) instead of patching a real adapter.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from channels.base import Channel, Receipt, RenderedMessage
from channels.errors import ChannelError

FailureSpec = BaseException | type[BaseException]


class InMemoryChannel(Channel):
    def __init__(self, name: str = "in_memory", contact_kind: str = "email") -> None:
        self.name, self.contact_kind = name, contact_kind
        self.sent: list[RenderedMessage] = []  # accepted messages, in order
        self.attempts: list[RenderedMessage] = []  # every call, failed ones included
        self.closed = False
        self._failures: dict[str, tuple[FailureSpec, int | None]] = {}
        self._ids = itertools.count(1)

    def fail_for(self, recipient: str, exc: FailureSpec, *, times: int | None = None) -> None:
        """Raise `exc` when delivering to `recipient`: on every call, or on the next `times`.

        An exception class is instantiated per call (a ChannelError subclass gets this
        channel's name), so `fail_for(addr, RecipientRejected)` is all a test needs.
        """
        self._failures[recipient] = (exc, times)

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        self.attempts.append(msg)
        failure = self._take_failure(msg.recipient)
        if failure is not None:
            raise failure
        self.sent.append(msg)
        return Receipt(
            channel=self.name,
            idempotency_key=msg.idempotency_key,
            provider_id=f"in-memory-{next(self._ids)}",
            accepted_at=datetime.now(UTC),
        )

    async def aclose(self) -> None:
        self.closed = True

    def _take_failure(self, recipient: str) -> BaseException | None:
        spec = self._failures.get(recipient)
        if spec is None:
            return None
        exc, remaining = spec
        if remaining is not None:
            if remaining <= 1:
                del self._failures[recipient]
            else:
                self._failures[recipient] = (exc, remaining - 1)
        if not isinstance(exc, type):
            return exc
        if issubclass(exc, ChannelError):
            return exc(self.name, "injected failure")
        return exc()
