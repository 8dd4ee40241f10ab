"""SMS against Twilio's contract: `prism proxy --errors` in front of a Twilio-shaped upstream
(tests/support/prism.py) that refuses one number with Twilio's 21610 (unsubscribed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

from channels.base import ContactPointData
from channels.sms import SmsChannel, SmsSettings
from tests.contract.cases import ChannelCase, Peer
from tests.support.prism import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OriginRewritingClient,
    free_port,
    shared_peer,
)

REFUSED = "+31612345670"
CALLBACK = "https://hooks.example.org/callbacks/twilio/status"


@asynccontextmanager
async def _peer() -> AsyncIterator[Peer]:
    twilio = shared_peer()
    twilio.upstream.refused[REFUSED] = (400, 21610)
    origin = {"url": twilio.url}
    settings = SmsSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15005550006",
        status_callback_url=CALLBACK,
        timeout=5.0,
    )
    channel = SmsChannel(
        settings, http_client=lambda s: OriginRewritingClient(lambda: origin["url"])
    )
    start = len(twilio.upstream.received)

    def received() -> list[str]:
        sent = twilio.upstream.received[start:]
        return [
            parse_qs(urlsplit(r.form["StatusCallback"]).query)["key"][0]
            for r in sent
            if r.path.endswith("/Messages.json")
        ]

    @asynccontextmanager
    async def take_down() -> AsyncIterator[None]:
        origin["url"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        try:
            yield
        finally:
            origin["url"] = twilio.url

    try:
        yield Peer(channel, received, take_down)
    finally:
        await channel.aclose()


CASE = ChannelCase(
    name="sms",
    good=ContactPointData("phone", "06 12345678", country="NL"),
    refused=ContactPointData("phone", REFUSED, country="NL"),
    peer=_peer,
    # The subscriber digits: neither the national nor the E.164 form may reach a log line.
    secret=lambda point: point.value.replace(" ", "")[-8:],
)
