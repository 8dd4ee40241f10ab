"""SMS through the twilio SDK against Twilio's own API contract served by Prism: what Prism
validated and forwarded is what Twilio would have received (tests/support/prism.py)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from channels.base import BuildContext, ContactPointData, RenderedMessage
from channels.errors import ChannelFault, RecipientRejected
from channels.sms import SPEC, SmsChannel, SmsSettings, measure
from channels.twilio_client import capture_name
from tests.support.prism import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OriginRewritingClient,
    Prism,
    TwilioPeer,
    shared_mock,
    shared_peer,
)

CALLBACK = "https://hooks.example.org/callbacks/twilio/status"
KEY = "INC-2026-7:p1:sms:1"


@pytest.fixture(scope="session")
def twilio_peer() -> TwilioPeer:
    return shared_peer()


@pytest.fixture(scope="session")
def prism_mock() -> Prism:
    return shared_mock()


def settings(**extra: object) -> SmsSettings:
    values: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": "+15005550006",
        "status_callback_url": CALLBACK,
        "notice_url_template": "https://example.org/notices/{incident_ref}",
        "timeout": 5.0,
    }
    return SmsSettings.model_validate({**values, **extra})


def channel_at(url: str, cfg: SmsSettings) -> SmsChannel:
    return SmsChannel(cfg, http_client=lambda _s: OriginRewritingClient(lambda: url))


def message(value: str = "06 12345678", *, key: str = KEY, lead: str = "") -> RenderedMessage:
    text = (
        "Security notice: a security incident involved your personal data.\n"
        f"{lead}\n\nReference: INC-2026-7\nFull notice and what you can do: {{notice_url}}\n"
    )
    point = ContactPointData("phone", value, country="NL")
    return RenderedMessage(
        recipient=value, locale="en", subject=None, body_text=text, idempotency_key=key,
        message_id="m1", contact=point, headers={"X-Incident-Ref": "INC-2026-7"},
    )  # fmt: skip


async def test_the_sdk_request_satisfies_the_plain_contract_mock(prism_mock: Prism) -> None:
    """Prism's mock accepts the request (fields, auth) and answers with the spec's example."""
    channel = channel_at(prism_mock.url, settings())
    try:
        receipt = await channel.deliver(message())
    finally:
        await channel.aclose()
    assert receipt.provider_id == "SM" + "a" * 32 and receipt.idempotency_key == KEY


async def test_what_twilio_receives_is_e164_budgeted_and_carries_the_key(
    twilio_peer: TwilioPeer,
) -> None:
    channel = channel_at(twilio_peer.url, settings(max_segments=2))
    start = len(twilio_peer.upstream.received)
    try:
        receipt = await channel.deliver(message(lead="An attacker copied data. " * 40))
    finally:
        await channel.aclose()
    [sent] = twilio_peer.upstream.received[start:]
    form = sent.form
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert (form["To"], form["From"]) == ("+31612345678", "+15005550006")
    assert parse_qs(urlsplit(form["StatusCallback"]).query) == {"key": [KEY]}
    assert measure(form["Body"]).count <= 2
    assert form["Body"].endswith(
        "Reference: INC-2026-7\nFull notice and what you can do: "
        "https://example.org/notices/INC-2026-7"
    )
    assert receipt.provider_id is not None and receipt.provider_id.startswith("SM")


async def test_a_messaging_service_sends_without_a_from_number(twilio_peer: TwilioPeer) -> None:
    service = "MG" + "b" * 32
    channel = channel_at(twilio_peer.url, settings(from_number=None, messaging_service_sid=service))
    start = len(twilio_peer.upstream.received)
    try:
        await channel.deliver(message())
    finally:
        await channel.aclose()
    [sent] = twilio_peer.upstream.received[start:]
    assert sent.form["MessagingServiceSid"] == service and "From" not in sent.form


@pytest.mark.parametrize(
    ("code", "status", "verdict"),
    [
        (21211, 400, RecipientRejected),  # invalid number
        (21614, 400, RecipientRejected),  # not a mobile number
        (21610, 400, RecipientRejected),  # unsubscribed (STOP)
        (20003, 401, ChannelFault),  # our credentials
        (20429, 429, ChannelFault),  # throttled
        (20500, 500, ChannelFault),  # Twilio's own failure
    ],
)
async def test_twilio_error_codes_are_mapped_to_recipient_or_channel(
    twilio_peer: TwilioPeer, code: int, status: int, verdict: type[Exception]
) -> None:
    number = f"+3161234{code % 10000:04d}"
    twilio_peer.upstream.refused[number] = (status, code)
    channel = channel_at(twilio_peer.url, settings())
    try:
        with pytest.raises(verdict) as caught:
            await channel.deliver(message(number))
    finally:
        await channel.aclose()
    assert f"code {code}" in str(caught.value)
    assert number not in str(caught.value) and number[1:] not in str(caught.value)


async def test_an_invalid_number_is_refused_before_anything_is_sent(
    twilio_peer: TwilioPeer,
) -> None:
    channel = channel_at(twilio_peer.url, settings())
    start = len(twilio_peer.upstream.received)
    with pytest.raises(RecipientRejected, match="invalid number"):
        await channel.deliver(message("12345"))
    assert twilio_peer.upstream.received[start:] == []
    assert SPEC.check(ContactPointData("phone", "06 12345678", country="NL")) is None
    assert SPEC.check(ContactPointData("phone", "06 12345678")) is not None  # no country
    assert SPEC.check(ContactPointData("phone", "+1 555")) is not None


def test_settings_refuse_an_account_without_a_sender_or_a_bad_url_template() -> None:
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        SmsSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    with pytest.raises((ValueError, KeyError)):
        settings(notice_url_template="https://example.org/{incident}")


async def test_without_an_account_each_message_is_a_json_file_named_by_its_key(
    tmp_path: Path,
) -> None:
    assert SPEC.needs_provider(SmsSettings())
    cfg = (
        SPEC.embedded(SmsSettings(), BuildContext(tmp_path, "example.org"))
        if SPEC.embedded
        else None
    )
    assert isinstance(cfg, SmsSettings) and not SPEC.needs_provider(cfg)
    channel = SPEC.factory(cfg, BuildContext(tmp_path, "example.org"))
    receipt = await channel.deliver(message())
    again = await channel.deliver(message())  # a resend replaces the same file
    files = list((tmp_path / "sms").iterdir())
    assert [f.name for f in files] == [capture_name(KEY)]
    record = json.loads(files[0].read_text(encoding="utf-8"))
    assert record["to"] == "+31612345678" and record["idempotency_key"] == KEY
    # No notice_url_template and no contact_url: the link line is left out, not sent as a slot.
    assert record["body"].endswith("Reference: INC-2026-7") and "{" not in record["body"]
    assert record["segments"] == measure(record["body"]).count
    assert receipt.provider_id == again.provider_id
