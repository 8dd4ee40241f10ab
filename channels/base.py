"""The one small interface every channel implements.

A channel receives a fully rendered message (it never sees templates or the domain) and either
returns a Receipt or raises a ChannelError. Contact details reach it only here, at send time.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    recipient: str  # email address / E.164 number / postal block / push subscription
    locale: str
    subject: str | None
    body_text: str
    idempotency_key: str  # incident_id:person_id:channel:notice_version
    message_id: str  # stable per idempotency key: a resend after a crash reuses it
    body_html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    channel: str
    idempotency_key: str
    provider_id: str | None
    accepted_at: datetime


class Channel(abc.ABC):
    """Base of every channel adapter: `deliver` one message, or `deliver_many` concurrently."""

    name: ClassVar[str]
    # Which field of a person this channel needs ("email", "phone", "postal_address", ...).
    contact_kind: ClassVar[str]

    @classmethod
    def recipient_problem(cls, recipient: str | None) -> str | None:
        """Why this contact point cannot be used, or None when it looks deliverable."""
        return "missing" if not recipient else None

    @abc.abstractmethod
    async def deliver(self, msg: RenderedMessage) -> Receipt:
        """Hand one message to the provider; raise a ChannelError subclass on failure."""

    async def deliver_many(
        self, msgs: Sequence[RenderedMessage], *, concurrency: int = 16
    ) -> list[Receipt | BaseException]:
        """Deliver concurrently; the result at position i belongs to msgs[i]."""
        gate = asyncio.Semaphore(concurrency)

        async def one(msg: RenderedMessage) -> Receipt:
            async with gate:
                return await self.deliver(msg)

        return await asyncio.gather(*(one(m) for m in msgs), return_exceptions=True)

    async def aclose(self) -> None:  # noqa: B027 - most channels hold nothing to release
        """Release connections; safe to call more than once."""
