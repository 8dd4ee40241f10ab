"""The contract every channel in the registry keeps, each against its real test peer:

- it declares the contact kinds it needs, and its settings model has defaults or a clear error;
- an accepted message comes back as a Receipt for the same idempotency key;
- a refused contact point is a recipient verdict (RecipientRejected), never a channel fault;
- an unreachable provider is a channel fault, never a verdict on the person;
- a resend of the same key carries the same message id (the receiving side can deduplicate);
- no contact detail reaches a log line.
"""

from __future__ import annotations

import logging

import pytest
import structlog

from channels import REGISTRY
from channels.base import ContactKind, Receipt
from channels.errors import ChannelError, ChannelFault, RecipientRejected, RecipientVerdict
from tests.contract.cases import ChannelCase, all_cases

CASES = all_cases()
PEER_LOGGERS = ("mail.log", "aiohttp.access", "tests.")
KINDS = {v for k, v in vars(ContactKind).items() if k.isupper()}


@pytest.fixture(params=sorted(REGISTRY))
def case(request: pytest.FixtureRequest) -> ChannelCase:
    name = request.param
    if name not in CASES:
        pytest.fail(f"channel {name!r} has no contract case: add tests/contract/case_{name}.py")
    return CASES[name]


def test_every_channel_declares_the_contact_kinds_it_needs(case: ChannelCase) -> None:
    spec = REGISTRY[case.name]
    assert spec.contact_kinds and set(spec.contact_kinds) <= KINDS
    assert case.good.kind in spec.contact_kinds
    assert spec.template_parts, "a channel renders at least one part"
    check = (
        spec.checker(spec.settings_model.model_validate(case.settings))
        if spec.checker
        else spec.check
    )
    assert check(case.good) is None


async def test_an_accepted_message_is_a_receipt_for_its_key(case: ChannelCase) -> None:
    async with case.peer() as peer:
        receipt = await peer.channel.deliver(case.message(case.good, "INC-1:p1:c:1"))
    assert isinstance(receipt, Receipt)
    assert receipt.idempotency_key == "INC-1:p1:c:1"


async def test_a_refused_contact_point_is_a_verdict_on_the_recipient(case: ChannelCase) -> None:
    async with case.peer() as peer:
        with pytest.raises(RecipientRejected) as caught:
            await peer.channel.deliver(case.message(case.refused, "INC-1:p1:c:1"))
    assert not isinstance(caught.value, ChannelFault)


async def test_an_unreachable_provider_is_a_channel_fault_not_a_verdict(case: ChannelCase) -> None:
    async with case.peer() as peer, peer.take_down():
        with pytest.raises(ChannelError) as caught:
            await peer.channel.deliver(case.message(case.good, "INC-1:p1:c:1"))
    assert isinstance(caught.value, ChannelFault)
    assert not isinstance(caught.value, RecipientVerdict)


async def test_a_resend_of_the_same_key_is_recognisable_at_the_peer(case: ChannelCase) -> None:
    """The peer gets the same message id twice (and can drop the copy), or keeps one copy."""
    async with case.peer() as peer:
        await peer.channel.deliver(case.message(case.good, "INC-1:p1:c:1"))
        await peer.channel.deliver(case.message(case.good, "INC-1:p1:c:1"))
        ids = peer.received()
    assert ids and len(set(ids)) == 1


async def test_no_contact_detail_reaches_a_log_line(
    case: ChannelCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        async with case.peer() as peer:
            await peer.channel.deliver(case.message(case.good, "INC-1:p1:c:1"))
            with pytest.raises(RecipientRejected):
                await peer.channel.deliver(case.message(case.refused, "INC-1:p1:c:1"))
    # The peer's own log (aiosmtpd's `mail.log`, a provider mock) is the other side's business.
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(PEER_LOGGERS)]
    text = "\n".join(ours) + repr(logs)
    for point in (case.good, case.refused):
        assert case.secret(point) not in text
