"""Issue 23, item 2: a Web Push endpoint is a request forgery waiting to happen. Every hostile
endpoint is refused at import (kept with the reason, never usable) and again at send time, a
listed name resolving inward is refused where it is connected to, and redirects are answers,
never followed. The loopback push service of the tests is reachable only when listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session, select

from channels.base import BuildContext, ContactKind, ContactPointData, RenderedMessage
from channels.errors import ChannelFault, RecipientRejected
from channels.push import PushChannel, PushSettings, build_push, subscription_problem
from incident.adapters.db import make_engine
from incident.adapters.tables import ContactPoint
from tests.security.cli_run import breachnotice
from tests.support.push_endpoint import PushEndpoint, running_endpoint

KEYS = PushEndpoint().subscribe("k").details["keys"]

HOSTILE = {
    "https://169.254.169.254/latest/meta-data/": "not on a known push service",
    "https://10.0.0.5/push": "not on a known push service",
    "https://192.168.1.1/push": "not on a known push service",
    "https://127.0.0.1:5432/push": "not on a known push service",
    "https://[::1]/push": "not on a known push service",
    "https://[fe80::1]/push": "not on a known push service",
    "https://[::ffff:127.0.0.1]/push": "not on a known push service",
    "https://2130706433/push": "not on a known push service",
    "https://metadata.google.internal/computeMetadata/v1/": "not on a known push service",
    "https://localhost/push": "not on a known push service",
    "https://fcm.googleapis.com.evil.example/push": "not on a known push service",
    "https://evilfcm.googleapis.com/push": "not on a known push service",
    "https://push.apple.com/push": "not on a known push service",  # *.x is not x itself
    "https://fcm.googleapis.com:8443/fcm/send/x": "port is not allowed",
    "http://fcm.googleapis.com/fcm/send/x": "not https",
    "https://user:pw@fcm.googleapis.com/fcm/send/x": "credentials",
    "ftp://fcm.googleapis.com/x": "not an https URL",
}


def _point(endpoint: str) -> ContactPointData:
    return ContactPointData(ContactKind.PUSH, endpoint, {"endpoint": endpoint, "keys": KEYS})


@pytest.mark.parametrize(("endpoint", "says"), sorted(HOSTILE.items()))
def test_a_hostile_endpoint_is_refused_by_the_default_policy_without_echoing_it(
    endpoint: str, says: str
) -> None:
    problem = subscription_problem(_point(endpoint))
    assert problem is not None and says in problem, problem
    assert endpoint.split("//", 1)[1].split("/", 1)[0] not in problem


def test_an_inner_address_stays_refused_even_under_a_listed_wildcard() -> None:
    policy = PushSettings(allowed_hosts=["*.example.org", "10.0.0.5"]).policy()
    assert policy.problem("https://10.0.0.6/push") is not None  # not listed
    assert policy.problem("https://10.0.0.5/push") is None  # listed by address: the operator's
    assert policy.problem("https://a.example.org/push") is None
    assert policy.problem("http://10.0.0.5/push") is not None  # plain http: loopback only


def test_the_push_services_of_the_browsers_are_allowed_by_default() -> None:
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://wns2-db5p.notify.windows.com/w/?token=abc",
        "https://web.push.apple.com/QGd",
        "https://api.push.apple.com/3/device/abc",
    ):
        assert subscription_problem(_point(endpoint)) is None, endpoint


def test_people_import_keeps_every_hostile_subscription_unusable_with_the_reason(
    sqlite_url: str, tmp_path: Path
) -> None:
    rows = [
        {"id": f"p{i}", "name": "X", "country": "NL", "push_subscriptions": [json.loads(
            json.dumps({"endpoint": endpoint, "keys": KEYS}))]}
        for i, endpoint in enumerate(HOSTILE)
    ]  # fmt: skip
    path = tmp_path / "people.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {"BREACHNOTICE_DATABASE_URL": sqlite_url}
    done = breachnotice("people", "import", str(path), "--json", env=env, cwd=tmp_path)
    https = [e for e in HOSTILE if e.startswith("https://")]
    assert done.returncode == 2  # the rows whose endpoint is not https at all are refused
    for line, endpoint in enumerate(HOSTILE, start=1):
        if endpoint not in https:
            assert f"line {line}: push_subscriptions:" in done.stderr
    assert json.loads(done.stdout)["unusable_contact_points"] == len(https), done.stderr
    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        problems = {p.value: p.problem for p in s.exec(select(ContactPoint))}
    engine.dispose()
    for endpoint in https:  # kept with the reason, never usable
        assert HOSTILE[endpoint] in (problems[endpoint] or ""), endpoint


def test_the_test_push_service_is_reachable_only_when_listed(tmp_path: Path) -> None:
    loopback = "http://127.0.0.1:8080/push/abc"
    assert subscription_problem(_point(loopback)) is not None
    listed = PushSettings(allowed_hosts=["127.0.0.1:8080"]).policy()
    assert subscription_problem(_point(loopback), listed) is None
    assert subscription_problem(_point("http://127.0.0.1:8081/push/abc"), listed) is not None
    env = dict(os.environ, BREACHNOTICE_CHANNELS__PUSH__ALLOWED_HOSTS='["127.0.0.1:*"]')
    code = "from incident.settings import Settings;print(Settings().channels['push'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "127.0.0.1:*" in out.stdout, out.stderr


def _vapid_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _channel(*hosts: str) -> PushChannel:
    settings = PushSettings(
        vapid_private_key=_vapid_pem(),  # type: ignore[arg-type]
        vapid_subject="mailto:security@example.org",
        timeout=3.0,
        allowed_hosts=list(hosts),
    )
    return build_push(settings, BuildContext(Path("."), "example.org"))


def _notice(point: ContactPointData) -> RenderedMessage:
    return RenderedMessage(
        recipient=point.value,
        locale="en",
        subject="Security incident",
        body_text="We were breached.",
        idempotency_key="INC-1:p1:push:1",
        message_id="INC-1:p1:push:1@example.org",
        contact=point,
    )


@pytest.fixture
async def trap() -> AsyncIterator[tuple[str, list[str]]]:
    """A plain-http loopback server recording every request: where a redirect would lead."""
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", hits
    await runner.cleanup()


async def test_a_redirect_from_an_allowed_endpoint_is_not_followed(
    trap: tuple[str, list[str]],
) -> None:
    target, hits = trap

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{target}/latest/meta-data/")

    app = web.Application()
    app.router.add_post("/push/{token}", redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    channel = _channel(f"127.0.0.1:{port}")
    try:
        with pytest.raises(RecipientRejected, match="redirected"):
            await channel.deliver(_notice(_point(f"http://127.0.0.1:{port}/push/t")))
    finally:
        await channel.aclose()
        await runner.cleanup()
    assert hits == []


async def test_a_listed_name_resolving_to_an_inner_address_is_refused_at_connect_time() -> None:
    """DNS rebinding: the name passes the allow-list, the address it resolves to does not."""
    async with running_endpoint() as peer:
        point = peer.subscribe()
        endpoint = f"https://localhost:{peer.port}/push/{point.value.rsplit('/', 1)[1]}"
        channel = _channel("localhost:*")
        try:
            hostile = ContactPointData(
                ContactKind.PUSH, endpoint, {"endpoint": endpoint, "keys": point.details["keys"]}
            )
            assert (
                subscription_problem(hostile, PushSettings(allowed_hosts=["localhost:*"]).policy())
                is None
            )
            with pytest.raises(RecipientRejected, match="non-public") as caught:
                await channel.deliver(_notice(hostile))
            assert not isinstance(caught.value, ChannelFault)
        finally:
            await channel.aclose()
        assert peer.received == [] and peer.refusals == []


async def test_a_hostile_endpoint_is_refused_at_send_time_before_any_connection() -> None:
    channel = _channel()  # the default push services only
    try:
        for endpoint in HOSTILE:
            with pytest.raises(RecipientRejected):
                await channel.deliver(_notice(_point(endpoint)))
    finally:
        await channel.aclose()
