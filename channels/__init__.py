"""Channel adapters, one module each, and the explicit registry of those that exist."""

from __future__ import annotations

from channels.base import Channel, Receipt, RenderedMessage

__all__ = ["Channel", "Receipt", "RenderedMessage"]
