"""A Web Push service for tests: aiohttp on loopback, in the test's event loop.

It does what a push service does with a request (RFC 8030/8291/8292), written independently of
pywebpush: checks `Authorization: vapid t=<JWT>, k=<key>` (ES256 signature by the key in k,
`aud` = this origin, `exp` in the future and at most 24 h away), requires TTL and
`Content-Encoding: aes128gcm`, and decrypts the body with the subscriber's private key. Each
accepted message is recorded in plaintext. An endpoint can be told to answer a status instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from channels.base import ContactKind, ContactPointData

__all__ = ["PushEndpoint", "PushReceived", "Subscriber", "b64url", "running_endpoint"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A browser's side of one subscription: the keys the push service encrypts to."""

    token: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    answer: int | None = None  # a status to answer instead of accepting
    delay: float = 0.0  # seconds before answering

    def keys(self) -> dict[str, str]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url(public), "auth": b64url(self.auth)}


@dataclass(frozen=True)
class PushReceived:
    token: str
    headers: dict[str, str]  # TTL, Urgency, Topic, Content-Encoding as sent
    claims: dict[str, Any]  # the verified VAPID JWT claims
    vapid_key: str  # the k= public key
    plaintext: bytes

    def json(self) -> Any:
        return json.loads(self.plaintext)


class PushEndpoint:
    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.subscribers: dict[str, Subscriber] = {}
        self.received: list[PushReceived] = []
        self.refusals: list[tuple[int, str]] = []  # (status, why) for requests it refused
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{token}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def subscribe(self, token: str | None = None, **options: Any) -> ContactPointData:
        """A new subscription on this service, as the directory stores it (a contact point)."""
        sub = Subscriber(token or secrets.token_urlsafe(12), **options)
        self.subscribers[sub.token] = sub
        endpoint = f"{self.origin}/push/{sub.token}"
        details = {"endpoint": endpoint, "keys": sub.keys()}
        return ContactPointData(ContactKind.PUSH, endpoint, details)

    def answer(self, point: ContactPointData, status: int | None) -> None:
        self.subscribers[point.value.rsplit("/", 1)[1]].answer = status

    def for_point(self, point: ContactPointData) -> list[PushReceived]:
        token = point.value.rsplit("/", 1)[1]
        return [r for r in self.received if r.token == token]

    async def _handle(self, request: web.Request) -> web.Response:
        sub = self.subscribers.get(request.match_info["token"])
        if sub is None:
            return self._refuse(404, "no such subscription")
        body = await request.read()
        if sub.delay:
            await asyncio.sleep(sub.delay)
        try:
            claims, key = self._verify_vapid(request.headers.get("Authorization", ""))
        except (ValueError, KeyError, InvalidSignature) as exc:
            return self._refuse(401, f"VAPID: {exc!r}")
        if sub.answer is not None:
            return self._refuse(sub.answer, "told to")
        if request.headers.get("Content-Encoding") != "aes128gcm" or "TTL" not in request.headers:
            return self._refuse(400, "needs Content-Encoding: aes128gcm and TTL")
        try:
            plain = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
        except Exception as exc:  # any failure to decrypt is the sender's fault
            return self._refuse(400, f"cannot decrypt: {exc!r}")
        names = ("TTL", "Urgency", "Topic", "Content-Encoding")
        sent = {h: request.headers[h] for h in names if h in request.headers}
        self.received.append(PushReceived(sub.token, sent, claims, key, plain))
        location = f"{self.origin}/m/{len(self.received)}"
        return web.Response(status=201, headers={"Location": location})

    def _refuse(self, status: int, why: str) -> web.Response:
        self.refusals.append((status, why))
        return web.Response(status=status, text=why)

    def _verify_vapid(self, header: str) -> tuple[dict[str, Any], str]:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"scheme {scheme!r}")
        params = dict(p.strip().split("=", 1) for p in rest.split(","))
        token, key = params["t"], params["k"]
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
        signed, _, sig = token.rpartition(".")
        head = json.loads(_unb64(signed.split(".")[0]))
        if head.get("alg") != "ES256":
            raise ValueError(f"alg {head.get('alg')!r}")
        raw = _unb64(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))
        claims: dict[str, Any] = json.loads(_unb64(signed.split(".")[1]))
        now = time.time()
        if claims.get("aud") != self.origin:
            raise ValueError(f"aud {claims.get('aud')!r} is not {self.origin}")
        if not now < claims["exp"] <= now + 24 * 3600:
            raise ValueError(f"exp {claims['exp']} not within 24 h from now")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            raise ValueError("sub is not mailto: or https:")
        return claims, key


@asynccontextmanager
async def running_endpoint() -> AsyncIterator[PushEndpoint]:
    endpoint = PushEndpoint()
    await endpoint.start()
    try:
        yield endpoint
    finally:
        await endpoint.stop()
