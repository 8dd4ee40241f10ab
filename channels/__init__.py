"""Channel adapters, one module each, and the explicit registry of those that exist."""

from __future__ import annotations

from channels import announcement, email, letter, push, regulator, sms, voice
from channels.base import Channel, ChannelSpec, Receipt, RenderedMessage

# Explicit rather than discovered: adding a channel is one visible line here.
REGISTRY: dict[str, ChannelSpec] = {
    spec.name: spec
    for spec in (
        email.SPEC,
        push.SPEC,
        sms.SPEC,
        voice.SPEC,
        letter.SPEC,
        announcement.SPEC,
        regulator.SPEC,
    )
}

__all__ = ["REGISTRY", "Channel", "ChannelSpec", "Receipt", "RenderedMessage"]
