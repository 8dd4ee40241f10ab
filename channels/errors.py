"""Errors raised by channel adapters. Library errors are mapped to these at the boundary.

The first split is *whose* problem it is. A channel fault says nothing about the person: the
relay is down, our credentials or TLS are wrong, the provider throttles or fails. It spends none
of the notice's tries and never makes anyone unreachable; the channel's circuit breaker holds
the work until the channel is healthy again. A recipient verdict is about this one contact
point or message, and only it can move a person to their next channel.

ChannelError(channel, reason)
├── ChannelFault                         the channel is unhealthy: hold the work, open the breaker
│   ├── ChannelTimeout(ChannelFault, TimeoutError)
│   └── Throttled                        the provider asks us to slow down (HTTP 429)
└── RecipientVerdict                     about this recipient / this message only
    ├── RecipientDeferred                may succeed later: retry with backoff until the horizon
    ├── RecipientRejected                never for this contact point: next channel in the chain
    │   └── ContactPointGone             the contact point no longer exists (retire it)
    └── MessageRejected                  never this message (too long, refused content): next
                                         channel, the contact point stays usable for others
"""

from __future__ import annotations


class ChannelError(Exception):
    def __init__(self, channel: str, reason: str) -> None:
        self.channel, self.reason = channel, reason
        super().__init__(f"{channel}: {reason}")


class ChannelFault(ChannelError, ConnectionError):
    """The channel cannot be used right now, for anyone: not a verdict on the recipient."""


class ChannelTimeout(ChannelFault, TimeoutError):
    pass


class Throttled(ChannelFault):
    """The provider throttles us (HTTP 429): slow this channel's send rate; nobody's fault."""

    def __init__(self, channel: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(channel, reason)
        self.retry_after = retry_after


class RecipientVerdict(ChannelError):
    """The provider answered about this recipient or this message."""


class RecipientDeferred(RecipientVerdict):
    """The provider may accept this message for this recipient later (e.g. 450 mailbox busy)."""


class RecipientRejected(RecipientVerdict):
    """The contact point itself is refused (unknown mailbox, invalid number, bad address)."""


class ContactPointGone(RecipientRejected):
    """The contact point no longer exists (push subscription 404/410): retire it for good."""


class MessageRejected(RecipientVerdict):
    """This message can never be sent as it is (it cannot be built or the provider refuses it).

    A verdict on the message, not on the contact point: the person moves to their next channel,
    and the point stays usable (a voice script too long says nothing about the phone's SMS)."""
