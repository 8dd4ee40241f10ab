"""The Web Push channel against a loopback push service that checks VAPID and decrypts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from channels import REGISTRY
from channels.base import BuildContext, ContactKind, ContactPointData, Receipt, RenderedMessage
from channels.errors import (
    ChannelFault,
    ChannelTimeout,
    ContactPointGone,
    MessageRejected,
    RecipientRejected,
    RecipientVerdict,
)
from channels.push import (
    PushChannel,
    PushSettings,
    build_push,
    embedded_push,
    push_check,
    topic_for,
)
from incident.bootstrap import Runtime, build_channels, resolve_channel_settings
from incident.errors import ConfigError
from incident.rendering import NoticeContext, Renderer
from incident.settings import Settings, templates_dir
from tests.support.push_endpoint import PushEndpoint, b64url, running_endpoint

NOTICE_URL = "https://notices.example.org/notices/{incident_ref}?lang={locale}"
LOCALES = ("en", "nl", "de", "fr", "es", "pt", "zh", "ja")


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


VAPID_KEY = ec.generate_private_key(ec.SECP256R1())
VAPID_PUBLIC = b64url(
    VAPID_KEY.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
)


def _settings(**overrides: object) -> PushSettings:
    values: dict[str, object] = {
        "vapid_private_key": _pem(VAPID_KEY),
        "vapid_subject": "mailto:security@example.org",
        "notice_url_template": NOTICE_URL,
        "timeout": 2.0,
        "allowed_hosts": ["127.0.0.1:*"],  # the loopback push service, listed by address
    }
    values.update(overrides)
    return PushSettings.model_validate(values)


def _build(**overrides: object) -> PushChannel:
    return build_push(_settings(**overrides), BuildContext(Path("."), "example.org"))


@pytest.fixture
async def endpoint() -> AsyncIterator[PushEndpoint]:
    async with running_endpoint() as peer:
        yield peer


@pytest.fixture
async def channel() -> AsyncIterator[PushChannel]:
    built = _build()
    yield built
    await built.aclose()


def _render(locale: str, guardian: bool = False) -> tuple[str, str]:
    renderer = Renderer(templates_dir(), required_parts={"push": ("text",)})
    ctx = NoticeContext(
        recipient_name="Anna de Vries",
        subject_name="Kim" if guardian else None,
        locale=locale,
        incident_ref="INC-2026-7",
        title="Unauthorised access to the customer database",
        description="d",
        impact="i",
        measures_taken="m",
        measures_planned="",
        advice="",
        remedies="",
        categories=("contact",),
        aware_at=datetime(2026, 3, 1, tzinfo=UTC),
        occurred_at=None,
        contact_email=None,
        contact_phone=None,
        contact_url="https://example.org/security",
    )
    parts = renderer.render("push", "notice", locale, ctx)
    return parts.text, parts.locale


def _notice(point: ContactPointData, locale: str = "nl", key: str = "INC-2026-7:p1:push:1"):
    text, used = _render(locale)
    return RenderedMessage(
        recipient=point.value,
        locale=used,
        subject=None,
        body_text=text,
        idempotency_key=key,
        message_id=f"{key}@example.org",
        headers={"X-Incident-Ref": "INC-2026-7"},
        contact=point,
    )


async def test_the_test_push_service_refuses_what_a_real_one_would(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    """The peer's checks are real: a forged, mis-addressed or unencrypted push is refused."""
    point = endpoint.subscribe()
    good = _notice(point)
    await channel.deliver(good)
    auth = channel._authorization(point.value)
    token = auth.removeprefix("vapid t=").split(", k=")[0]
    other = PushChannel(
        vapid_private_key=_pem(ec.generate_private_key(ec.SECP256R1())),
        vapid_subject="mailto:a@example.org",
    )
    forged = f"vapid t={token}, k={other._public}"  # someone else's key
    elsewhere = other._authorization("http://127.0.0.1:1/push/x")  # aud of another origin
    async with aiohttp.ClientSession() as http:
        for header, status in ((forged, 401), (elsewhere, 401), (auth, 400), ("", 401)):
            headers = {"Authorization": header, "TTL": "60", "Content-Encoding": "aes128gcm"}
            async with http.post(point.value, data=b"plain", headers=headers) as resp:
                assert resp.status == status, header
    assert len(endpoint.received) == 1


def test_push_is_registered_for_push_subscriptions() -> None:
    spec = REGISTRY["push"]
    assert spec.contact_kinds == (ContactKind.PUSH,)
    assert spec.template_parts == ("text",)


async def test_the_decrypted_payload_is_json_in_the_persons_language_opening_the_notice(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    """The push service gets a VAPID-signed, aes128gcm body; decrypted, it is Dutch JSON."""
    point = endpoint.subscribe()
    receipt = await channel.deliver(_notice(point, "nl"))

    [got] = endpoint.for_point(point)
    note = got.json()
    assert note["lang"] == "nl"
    assert note["title"] == "Belangrijk: beveiligingsincident met uw persoonsgegevens"
    assert note["body"].startswith("Open dit bericht om te lezen wat er is gebeurd")
    assert note["url"] == "https://notices.example.org/notices/INC-2026-7?lang=nl"
    assert "Anna" not in got.plaintext.decode()  # lock screens show it: no names
    assert len(got.plaintext) <= PushChannel.max_payload_bytes
    assert got.claims["aud"] == endpoint.origin
    assert got.claims["sub"] == "mailto:security@example.org"
    assert got.vapid_key == VAPID_PUBLIC
    assert got.headers["Urgency"] == "high"
    assert got.headers["TTL"] == str(7 * 86400)
    assert got.headers["Topic"] == topic_for("INC-2026-7:p1:push:1")
    assert isinstance(receipt, Receipt)
    assert receipt.provider_id == f"{endpoint.origin}/m/1"
    assert receipt.idempotency_key == "INC-2026-7:p1:push:1"


@pytest.mark.parametrize("locale", LOCALES)
async def test_every_locale_arrives_in_its_own_language(
    endpoint: PushEndpoint, channel: PushChannel, locale: str
) -> None:
    point = endpoint.subscribe()
    msg = _notice(point, locale)
    await channel.deliver(msg)
    note = endpoint.for_point(point)[0].json()
    assert note["lang"] == locale
    assert note["title"] == msg.body_text.splitlines()[0]
    assert note["url"].endswith(f"lang={locale}")


async def test_without_a_notice_url_template_the_incidents_address_is_opened(
    endpoint: PushEndpoint,
) -> None:
    channel = _build(notice_url_template="")
    point = endpoint.subscribe()
    await channel.deliver(_notice(point, "de"))
    await channel.aclose()
    assert endpoint.for_point(point)[0].json()["url"] == "https://example.org/security"


async def test_a_long_body_is_shortened_to_fit_the_payload_budget(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    point = endpoint.subscribe()
    long = RenderedMessage(
        recipient=point.value,
        locale="ja",
        subject=None,
        body_text="タイトル\n" + "長い本文です。" * 400 + "\nhttps://example.org/x",
        idempotency_key="INC-1:p1:push:1",
        message_id="m@example.org",
        contact=point,
    )
    await channel.deliver(long)
    got = endpoint.for_point(point)[0]
    assert len(got.plaintext) <= PushChannel.max_payload_bytes
    assert got.json()["body"].endswith("…")


async def test_a_resend_of_the_same_key_carries_the_same_topic(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    point = endpoint.subscribe()
    await channel.deliver(_notice(point, key="INC-1:p1:push:1"))
    await channel.deliver(_notice(point, key="INC-1:p1:push:1"))
    await channel.deliver(_notice(point, key="INC-1:p1:push:2"))
    topics = [r.headers["Topic"] for r in endpoint.for_point(point)]
    assert topics[0] == topics[1] != topics[2]
    assert all(len(t) <= 32 for t in topics)


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_is_retired(
    endpoint: PushEndpoint, channel: PushChannel, status: int
) -> None:
    point = endpoint.subscribe()
    endpoint.answer(point, status)
    with pytest.raises(ContactPointGone) as caught:
        await channel.deliver(_notice(point))
    assert str(status) in caught.value.reason
    assert point.value not in str(caught.value)


async def test_an_endpoint_the_service_does_not_know_is_gone(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    point = endpoint.subscribe()
    endpoint.subscribers.clear()  # the real 404: the service forgot the subscription
    with pytest.raises(ContactPointGone):
        await channel.deliver(_notice(point))


@pytest.mark.parametrize("status", [429, 500, 503, 401, 403])
async def test_throttling_server_errors_and_refused_credentials_are_channel_faults(
    endpoint: PushEndpoint, channel: PushChannel, status: int
) -> None:
    point = endpoint.subscribe()
    endpoint.answer(point, status)
    with pytest.raises(ChannelFault) as caught:
        await channel.deliver(_notice(point))
    assert not isinstance(caught.value, RecipientVerdict)


@pytest.mark.parametrize("status", [400, 413])
async def test_a_refused_payload_is_a_verdict_on_the_message(
    endpoint: PushEndpoint, channel: PushChannel, status: int
) -> None:
    point = endpoint.subscribe()
    endpoint.answer(point, status)
    with pytest.raises(MessageRejected):
        await channel.deliver(_notice(point))


async def test_a_push_service_that_is_down_is_a_channel_fault(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    point = endpoint.subscribe()
    await endpoint.stop()
    with pytest.raises(ChannelFault) as caught:
        await channel.deliver(_notice(point))
    assert not isinstance(caught.value, RecipientVerdict)


async def test_a_push_service_that_does_not_answer_in_time_is_a_timeout(
    endpoint: PushEndpoint,
) -> None:
    channel = _build(timeout=0.1)
    point = endpoint.subscribe(delay=0.5)
    with pytest.raises(ChannelTimeout):
        await channel.deliver(_notice(point))
    await channel.aclose()


async def test_many_notices_share_the_session_and_each_arrives_once(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    points = [endpoint.subscribe() for _ in range(60)]
    msgs = [_notice(p, key=f"INC-1:p{i}:push:1") for i, p in enumerate(points)]
    results = await channel.deliver_many(msgs, concurrency=8)
    assert all(isinstance(r, Receipt) for r in results)
    assert sorted(r.token for r in endpoint.received) == sorted(endpoint.subscribers)
    assert len({r.headers["Topic"] for r in endpoint.received}) == 60


async def test_raw_base64url_vapid_keys_work_too(endpoint: PushEndpoint) -> None:
    raw = VAPID_KEY.private_numbers().private_value.to_bytes(32, "big")
    channel = _build(vapid_private_key=b64url(raw), vapid_subject="https://example.org")
    point = endpoint.subscribe()
    await channel.deliver(_notice(point))
    await channel.aclose()
    assert endpoint.for_point(point)[0].vapid_key == VAPID_PUBLIC


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"vapid_private_key": "not a key"}, "not a PEM or base64url EC private key"),
        ({"vapid_private_key": "   "}, "empty"),
        ({"vapid_private_key": _pem(rsa.generate_private_key(65537, 2048))}, "P-256"),
        ({"vapid_private_key": _pem(ec.generate_private_key(ec.SECP384R1()))}, "P-256"),
        ({"vapid_subject": ""}, "vapid_subject"),
        ({"vapid_subject": "security@example.org"}, "vapid_subject"),
        ({"notice_url_template": "https://x.example/{incident}"}, "notice_url_template"),
        ({"notice_url_template": "ftp://x.example/{incident_ref}"}, "notice_url_template"),
    ],
)
def test_bad_settings_fail_at_build_time_with_the_reason(
    overrides: dict[str, object], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        _build(**overrides)


def test_the_start_names_the_channel_whose_vapid_key_is_bad(tmp_path: Path) -> None:
    settings = Settings(
        out_dir=tmp_path,
        channels={"push": {"vapid_private_key": "AAAA", "vapid_subject": "mailto:a@example.org"}},
        dispatch={"fallback_chain": ["push"]},
    )
    runtime = Runtime(settings, None, "", resolve_channel_settings(settings))  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        build_channels(runtime)
    assert caught.value.entry == "channels.push"
    assert "vapid_private_key" in caught.value.problem


def _point(endpoint: str, keys: object = None) -> ContactPointData:
    details: dict[str, object] = {"endpoint": endpoint}
    if keys is not None:
        details["keys"] = keys
    return ContactPointData(ContactKind.PUSH, endpoint, details)


def test_check_accepts_push_services_and_loopback_http_only_when_listed() -> None:
    keys = PushEndpoint().subscribe("t").details["keys"]
    check = REGISTRY["push"].check
    assert check(_point("https://fcm.googleapis.com/fcm/send/abc", keys)) is None
    assert check(_point("http://127.0.0.1:8080/push/abc", keys)) is not None
    listed = push_check(_settings())
    assert listed(_point("http://127.0.0.1:8080/push/abc", keys)) is None
    assert listed(_point("http://localhost:8080/push/abc", keys)) is not None


@pytest.mark.parametrize(
    ("point", "says"),
    [
        (_point("https://push.example.net/abc"), "no keys"),
        (_point("https://push.example.net/abc", {"auth": "x"}), "no keys"),
        (_point("http://push.example.net/abc", {"p256dh": "x", "auth": "y"}), "not https"),
        (_point("ftp://push.example.net/abc", {"p256dh": "x", "auth": "y"}), "not an https"),
        (_point("", {"p256dh": "x", "auth": "y"}), "not an https"),
        (_point("https://push.example.net/abc", {"p256dh": "AAAA", "auth": "y"}), "p256dh"),
        (ContactPointData(ContactKind.PUSH, "https://push.example.net/a", {"raw": 1}), "no keys"),
    ],
)
def test_check_refuses_unusable_subscriptions_without_echoing_them(
    point: ContactPointData, says: str
) -> None:
    problem = push_check(_settings(allowed_hosts=["push.example.net"]))(point)
    assert problem is not None and says in problem
    assert "push.example.net" not in problem


def test_check_refuses_an_auth_secret_of_the_wrong_size() -> None:
    keys = dict(PushEndpoint().subscribe("t").details["keys"])
    keys["auth"] = b64url(b"short")
    problem = REGISTRY["push"].check(_point("https://fcm.googleapis.com/abc", keys))
    assert problem == "auth secret is not 16 bytes"


async def test_an_unusable_subscription_is_refused_before_sending(
    endpoint: PushEndpoint, channel: PushChannel
) -> None:
    point = _point(f"{endpoint.origin}/push/x", {"auth": "only"})
    with pytest.raises(RecipientRejected) as caught:
        await channel.deliver(_notice(point))
    assert not isinstance(caught.value, ContactPointGone)  # unusable, but not retired
    assert endpoint.refusals == [] and endpoint.received == []


async def test_the_embedded_default_writes_each_payload_as_a_json_file(tmp_path: Path) -> None:
    spec = REGISTRY["push"]
    settings = PushSettings(allowed_hosts=["127.0.0.1:*"])
    assert spec.needs_provider(settings)
    assert not spec.needs_provider(_settings())
    ctx = BuildContext(tmp_path, "example.org")
    local = embedded_push(settings, ctx)
    assert not spec.needs_provider(local)
    channel = build_push(local, ctx)
    point = PushEndpoint().subscribe("t1")

    receipt = await channel.deliver(_notice(point, "fr", key="INC-2026-7:p1:push:1"))
    await channel.deliver(_notice(point, "fr", key="INC-2026-7:p1:push:1"))  # a resend
    await channel.aclose()

    [written] = (tmp_path / "push").iterdir()  # the resend replaced it; no temporary left
    record = json.loads(written.read_text(encoding="utf-8"))
    assert written.name == f"{topic_for('INC-2026-7:p1:push:1')}.json"
    assert record["endpoint"] == point.value
    assert record["payload"]["lang"] == "fr"
    assert record["payload"]["title"].startswith("Important : incident de sécurité")
    assert record["payload"]["url"] == "https://example.org/security"
    assert receipt.provider_id is None
