"""InMemoryChannel: the fake other unit tests deliver through."""

from __future__ import annotations

import pytest

from channels.base import Channel, RenderedMessage
from channels.errors import RecipientDeferred, RecipientRejected
from channels.in_memory import InMemoryChannel


def _msg(recipient: str, n: int = 1) -> RenderedMessage:
    return RenderedMessage(
        recipient=recipient,
        locale="en",
        subject="Notice",
        body_text="Body",
        idempotency_key=f"k{n}",
        message_id=f"m{n}@example.org",
    )


async def test_it_records_every_delivered_message_in_order() -> None:
    channel = InMemoryChannel()
    receipts = [await channel.deliver(_msg(f"p{n}@example.com", n)) for n in range(3)]

    assert isinstance(channel, Channel)
    assert [m.idempotency_key for m in channel.sent] == ["k0", "k1", "k2"]
    assert [r.idempotency_key for r in receipts] == ["k0", "k1", "k2"]
    assert len({r.provider_id for r in receipts}) == 3


async def test_it_fails_for_a_chosen_recipient_every_time() -> None:
    channel = InMemoryChannel()
    channel.fail_for("gone@example.com", RecipientRejected)

    for _ in range(2):
        with pytest.raises(RecipientRejected, match="in_memory: injected failure"):
            await channel.deliver(_msg("gone@example.com"))
    await channel.deliver(_msg("ok@example.com"))

    assert [m.recipient for m in channel.sent] == ["ok@example.com"]
    assert len(channel.attempts) == 3


async def test_a_failure_can_be_limited_to_the_next_n_attempts() -> None:
    channel = InMemoryChannel()
    channel.fail_for("busy@example.com", RecipientDeferred("in_memory", "451"), times=2)

    for _ in range(2):
        with pytest.raises(RecipientDeferred):
            await channel.deliver(_msg("busy@example.com"))
    await channel.deliver(_msg("busy@example.com"))

    assert len(channel.sent) == 1


async def test_deliver_many_returns_failures_in_place() -> None:
    channel = InMemoryChannel()
    channel.fail_for("b@example.com", RecipientRejected)

    results = await channel.deliver_many([_msg("a@example.com"), _msg("b@example.com")])

    assert isinstance(results[1], RecipientRejected)
    assert not isinstance(results[0], BaseException)


async def test_aclose_is_recorded() -> None:
    channel = InMemoryChannel()
    await channel.aclose()
    assert channel.closed
