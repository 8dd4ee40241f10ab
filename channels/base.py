"""The one small interface every channel implements, and the registry entry that describes it.

A channel receives a fully rendered message (it never sees templates or the domain) and either
returns a Receipt or raises a ChannelError. Contact details reach it only here, at send time.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ContactKind:
    """Kinds of contact point a person (or the public, or an authority) can be reached at."""

    EMAIL = "email"
    PHONE = "phone"
    POSTAL = "postal"
    PUSH = "push"  # a Web Push subscription: endpoint + keys in `details`
    APP = "app"  # a mobile app token (later)
    PUBLIC = "public"  # the announcement's web root: one per incident and locale
    AUTHORITY = "authority"  # a regulator's submission address or portal


@dataclass(frozen=True, slots=True)
class ContactPointData:
    """One contact point as a channel sees it: the value, structured details, the country."""

    kind: str
    value: str
    details: Mapping[str, Any] = field(default_factory=dict)
    country: str | None = None  # default region for phone numbers, address format for letters


ContactCheck = Callable[[ContactPointData], "str | None"]


def value_present(point: ContactPointData) -> str | None:
    """The default contact check: anything non-empty is worth a try."""
    return None if point.value.strip() else "missing"


class ChannelSettings(BaseModel):
    """What every channel's `[channels.<name>]` table can set, besides its own fields."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=500, ge=1)
    concurrency: int = Field(default=16, ge=1)
    rate_limit_per_second: float | None = Field(default=None, gt=0)


@dataclass
class BuildContext:
    """What a factory may use besides its settings; `on_close` registers a cleanup."""

    out_dir: Path
    message_domain: str
    embedded_ok: bool = True
    on_close: Callable[[Callable[[], None]], None] = lambda _cb: None


@dataclass(frozen=True)
class ChannelSpec:
    """A registry entry: everything the service needs to know to build and route a channel."""

    name: str
    settings_model: type[ChannelSettings]
    factory: Callable[[Any, BuildContext], Channel]
    contact_kinds: tuple[str, ...]
    template_parts: tuple[str, ...]  # rendered parts the channel needs: subject, text, html...
    check: ContactCheck = value_present
    # The check as the channel's validated settings make it (an allow-list): used, when set,
    # wherever settings are at hand (`people import`, enrichment); `check` is its default.
    checker: Callable[[Any], ContactCheck] | None = None
    # Start a local stand-in (a capture server or folder) when the settings name no provider;
    # returns the settings that point at it. None: the channel has no embedded default.
    embedded: Callable[[Any, BuildContext], ChannelSettings] | None = None
    needs_provider: Callable[[Any], bool] = lambda _settings: False


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    recipient: str  # email address / E.164 number / postal block / push endpoint
    locale: str
    subject: str | None
    body_text: str
    idempotency_key: str  # incident_id:addressee:channel:notice_version
    message_id: str  # stable per idempotency key: a resend after a crash reuses it
    body_html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    contact: ContactPointData | None = None  # structured contact (postal fields, push keys)
    parts: Mapping[str, str] = field(default_factory=dict)  # extra rendered parts by name


@dataclass(frozen=True, slots=True)
class Receipt:
    channel: str
    idempotency_key: str
    provider_id: str | None
    accepted_at: datetime


class Channel(abc.ABC):
    """Base of every channel adapter: `deliver` one message, or `deliver_many` concurrently."""

    name: str
    # Which kind of contact point this channel needs (a ContactKind value).
    contact_kind: str

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
