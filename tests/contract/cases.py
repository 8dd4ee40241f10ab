"""What the contract suite needs of each channel: how to build it against its real test peer,
a contact point the peer accepts, one it refuses, and how to make the peer unreachable.

Each channel adds a `case_<name>.py` module here defining `CASE`; `all_cases()` finds them, and
the suite fails for a registry entry without one, so no channel skips the contract."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from channels.base import Channel, ContactPointData, RenderedMessage


def message_for(point: ContactPointData, key: str = "INC-1:p1:x:1") -> RenderedMessage:
    return RenderedMessage(
        recipient=point.value,
        locale="en",
        subject="Security notice",
        body_text="We are writing to tell you about a security incident.",
        body_html="<p>We are writing to tell you about a security incident.</p>",
        idempotency_key=key,
        message_id=f"{abs(hash(key))}@example.org",
        contact=point,
    )


@dataclass(frozen=True)
class Peer:
    """A running test peer: the channel built against it, and what it saw."""

    channel: Channel
    received: Callable[[], list[str]]  # message ids (or provider idempotency data) received
    take_down: Callable[[], AbstractAsyncContextManager[None]]  # the peer unreachable inside


@dataclass(frozen=True)
class ChannelCase:
    name: str
    good: ContactPointData
    refused: ContactPointData
    peer: Callable[[], AbstractAsyncContextManager[Peer]]
    settings: Mapping[str, Any] = field(default_factory=dict)  # the channel's, for its check
    # The value that must never reach a log line (the contact detail itself).
    secret: Callable[[ContactPointData], str] = lambda point: point.value
    # The message as the dispatcher would build it for this channel (headers, parts).
    message: Callable[[ContactPointData, str], RenderedMessage] = lambda point, key: message_for(
        point, key
    )


def all_cases() -> dict[str, ChannelCase]:
    import tests.contract as package

    found: dict[str, ChannelCase] = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("case_"):
            case = importlib.import_module(f"tests.contract.{module.name}").CASE
            found[case.name] = case
    return found


__all__ = ["AsyncIterator", "ChannelCase", "Peer", "all_cases", "message_for"]
