"""Channel adapters, one module each, and the explicit registry of those that exist."""

from __future__ import annotations

from channels.base import Channel, Receipt, RenderedMessage
from channels.email import EmailChannel

# Explicit rather than discovered: adding a channel is one visible line here.
CHANNELS: dict[str, type[Channel]] = {
    EmailChannel.name: EmailChannel,
}

__all__ = ["CHANNELS", "Channel", "EmailChannel", "Receipt", "RenderedMessage"]
