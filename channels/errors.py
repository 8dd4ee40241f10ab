"""Errors raised by channel adapters. Library errors are mapped to these at the boundary.

ChannelError(channel, reason)
├── TransientChannelError(ChannelError, ConnectionError)   retry with backoff
│   └── ChannelTimeout(TransientChannelError, TimeoutError)
└── PermanentChannelError                                  no retry: next channel in the chain
    └── RecipientRejected                                  this contact point is unusable
"""

from __future__ import annotations


class ChannelError(Exception):
    def __init__(self, channel: str, reason: str) -> None:
        self.channel, self.reason = channel, reason
        super().__init__(f"{channel}: {reason}")


class TransientChannelError(ChannelError, ConnectionError):
    """The provider may accept the same message later."""


class ChannelTimeout(TransientChannelError, TimeoutError):
    pass


class PermanentChannelError(ChannelError):
    """The provider will never accept this message as it is."""


class RecipientRejected(PermanentChannelError):
    """The contact point itself is refused (bad address, unknown mailbox, invalid number)."""
