"""Voice calls through the twilio SDK against Twilio's contract served by Prism: the TwiML that
Prism validated and forwarded says the script twice in the person's language and asks for 1."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest

from channels.base import BuildContext, ContactPointData, RenderedMessage
from channels.errors import RecipientRejected
from channels.twilio_client import capture_name
from channels.voice import SPEC, VoiceChannel, VoiceSettings, voice_for
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
KEY = "INC-7:p1:voice:1"
SCRIPT = (
    "Goedendag. Dit is een belangrijk bericht <over> uw gegevens & meer.\n"
    "U kunt de volledige melding ook lezen op {notice_url}. Uw kenmerk is I N C, 7.\n\n"
    "Ik herhaal het bericht.\n\nDruk op 1 om te bevestigen.\n\nTot ziens.\n"
)


@pytest.fixture(scope="session")
def twilio_peer() -> TwilioPeer:
    return shared_peer()


@pytest.fixture(scope="session")
def prism_mock() -> Prism:
    return shared_mock()


def settings(**extra: object) -> VoiceSettings:
    values: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": "+15005550006",
        "status_callback_url": CALLBACK,
        "notice_url_template": "https://example.org/notices/{incident_ref}",
        "timeout": 5.0,
    }
    return VoiceSettings.model_validate({**values, **extra})


def channel_at(url: str, cfg: VoiceSettings) -> VoiceChannel:
    return VoiceChannel(cfg, http_client=lambda _s: OriginRewritingClient(lambda: url))


def message(value: str = "06 12345678", locale: str = "nl") -> RenderedMessage:
    return RenderedMessage(
        recipient=value, locale=locale, subject=None, body_text=SCRIPT, idempotency_key=KEY,
        message_id="m1", contact=ContactPointData("phone", value, country="NL"),
        headers={"X-Incident-Ref": "INC-7"},
    )  # fmt: skip


async def test_the_sdk_call_satisfies_the_plain_contract_mock(prism_mock: Prism) -> None:
    channel = channel_at(prism_mock.url, settings())
    try:
        receipt = await channel.deliver(message())
    finally:
        await channel.aclose()
    assert receipt.provider_id is not None and receipt.provider_id.startswith("CA")


async def test_the_call_says_the_script_twice_in_dutch_and_gathers_one_digit(
    twilio_peer: TwilioPeer,
) -> None:
    channel = channel_at(twilio_peer.url, settings())
    start = len(twilio_peer.upstream.received)
    try:
        await channel.deliver(message())
    finally:
        await channel.aclose()
    [sent] = twilio_peer.upstream.received[start:]
    form = sent.form
    assert sent.path.endswith("/Calls.json") and form["To"] == "+31612345678"
    assert parse_qs(urlsplit(form["StatusCallback"]).query) == {"key": [KEY]}
    root = ElementTree.fromstring(form["Twiml"])  # escaped: it parses, "<over>" is text
    [gather] = root.findall("Gather")
    assert gather.get("numDigits") == "1"
    assert parse_qs(urlsplit(gather.get("action", "")).query) == {"key": [KEY]}
    said = [say.text or "" for say in gather.findall("Say")]
    assert said[0] == said[2] and "<over> uw gegevens & meer" in said[0]
    assert "lezen op example.org." in said[0]  # the site, not a URL to spell out
    assert said[1] == "Ik herhaal het bericht." and said[3] == "Druk op 1 om te bevestigen."
    assert {(s.get("language"), s.get("voice")) for s in root.iter("Say")} == {
        ("nl-NL", "Polly.Lotte")
    }
    assert [s.text for s in root.findall("Say")] == ["Tot ziens."]  # after the gather


def test_every_locale_has_a_voice_and_unknown_ones_fall_back_to_english() -> None:
    for locale in ("en", "nl", "de", "fr", "es", "pt", "zh", "ja"):
        assert voice_for(locale)[0].split("-")[0] in (locale, "cmn")
    assert voice_for("pt_PT") == ("pt-PT", "Polly.Cristiano")
    assert voice_for("pt-br") == ("pt-BR", "Polly.Camila")
    assert voice_for("xx") == voice_for("en")


async def test_a_refused_number_is_a_verdict_on_the_recipient(twilio_peer: TwilioPeer) -> None:
    twilio_peer.upstream.refused["+31612340404"] = (400, 21211)
    channel = channel_at(twilio_peer.url, settings())
    try:
        with pytest.raises(RecipientRejected, match="code 21211"):
            await channel.deliver(message("+31612340404"))
    finally:
        await channel.aclose()


async def test_without_an_account_each_call_is_a_json_file(tmp_path: Path) -> None:
    ctx = BuildContext(tmp_path, "example.org")
    assert SPEC.embedded is not None and SPEC.needs_provider(VoiceSettings())
    channel = SPEC.factory(SPEC.embedded(VoiceSettings(), ctx), ctx)
    await channel.deliver(message())
    record = json.loads((tmp_path / "voice" / capture_name(KEY)).read_text(encoding="utf-8"))
    assert record["to"] == "+31612345678" and "<Say" in record["twiml"]
    assert "Gather" not in record["twiml"]  # no callback URL: nobody would hear the keypress
