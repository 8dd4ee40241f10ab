"""Voice against Twilio's contract: `prism proxy --errors` in front of a Twilio-shaped upstream
(tests/support/prism.py) that refuses one number with Twilio's 13224 (invalid number)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

from channels.base import ContactPointData
from channels.voice import VoiceChannel, VoiceSettings
from tests.contract.cases import ChannelCase, Peer
from tests.support.prism import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OriginRewritingClient,
    free_port,
    shared_peer,
)

REFUSED = "+31612345671"
CALLBACK = "https://hooks.example.org/callbacks/twilio/status"


@asynccontextmanager
async def _peer() -> AsyncIterator[Peer]:
    twilio = shared_peer()
    twilio.upstream.refused[REFUSED] = (400, 13224)
    origin = {"url": twilio.url}
    settings = VoiceSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15005550006",
        status_callback_url=CALLBACK,
        timeout=5.0,
    )
    channel = VoiceChannel(
        settings, http_client=lambda s: OriginRewritingClient(lambda: origin["url"])
    )
    start = len(twilio.upstream.received)

    def received() -> list[str]:
        sent = twilio.upstream.received[start:]
        return [
            parse_qs(urlsplit(r.form["StatusCallback"]).query)["key"][0]
            for r in sent
            if r.path.endswith("/Calls.json")
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
    name="voice",
    good=ContactPointData("phone", "06 12345678", country="NL"),
    refused=ContactPointData("phone", REFUSED, country="NL"),
    peer=_peer,
    # The subscriber digits: neither the national nor the E.164 form may reach a log line.
    secret=lambda point: point.value.replace(" ", "")[-8:],
)
