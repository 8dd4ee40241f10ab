"""Web Push against the loopback push service (tests/support/push_endpoint.py).

The good subscription and the refused one (answering 410) are made up front, on a fixed port,
because the contract builds its contact points before the peer starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.base import BuildContext
from channels.local_smtp import free_port
from channels.push import PushSettings, build_push
from tests.contract.cases import ChannelCase, Peer
from tests.support.push_endpoint import PushEndpoint

_ENDPOINT = PushEndpoint()
_ENDPOINT.port = free_port()
GOOD = _ENDPOINT.subscribe("good-subscription")
GONE = _ENDPOINT.subscribe("gone-subscription", answer=410)
_VAPID = ec.generate_private_key(ec.SECP256R1())
SETTINGS = {"allowed_hosts": [f"127.0.0.1:{_ENDPOINT.port}"]}  # loopback: listed explicitly


@asynccontextmanager
async def _peer() -> AsyncIterator[Peer]:
    endpoint = PushEndpoint()
    endpoint.port = _ENDPOINT.port
    endpoint.subscribers = dict(_ENDPOINT.subscribers)
    await endpoint.start()
    pem = _VAPID.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    settings = PushSettings.model_validate(
        {
            "vapid_private_key": pem,
            "vapid_subject": "mailto:security@example.org",
            "notice_url_template": "https://example.org/notices/{incident_ref}?lang={locale}",
            "timeout": 5.0,
            **SETTINGS,
        }
    )
    channel = build_push(settings, BuildContext(Path("."), "example.org"))

    def received() -> list[str]:
        return [r.headers["Topic"] for r in endpoint.received]

    @asynccontextmanager
    async def take_down() -> AsyncIterator[None]:
        await endpoint.stop()  # connection refused from now on
        yield

    try:
        yield Peer(channel, received, take_down)
    finally:
        await channel.aclose()
        await endpoint.stop()


CASE = ChannelCase(name="push", good=GOOD, refused=GONE, peer=_peer, settings=SETTINGS)
