"""What the SMS and voice channels share: Twilio account settings, the SDK client (async,
pooled), phone-number checks, Twilio error mapping, callback URLs and the local capture folder.

Twilio's REST API has no idempotency key for Messages or Calls. A resend after a crash (a
`sending` claim recovered) can therefore reach the person twice; the window is the time between
Twilio accepting the request and the dispatcher recording `sent`. What we can do is make every
request carry the notice's own key: it goes into the StatusCallback URL (`?key=...`), so each
receipt finds its delivery even before the provider's SID is stored, and two requests for one
key are recognisable as the same notice in Twilio's logs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import aiohttp
import phonenumbers
from pydantic import Field
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.base import BuildContext, Channel, ChannelSettings, ContactPointData
from channels.errors import (
    ChannelFault,
    ChannelTimeout,
    MessageRejected,
    RecipientRejected,
    Throttled,
)

# Twilio error codes (https://www.twilio.com/docs/api/errors) that are a verdict on the number.
RECIPIENT_CODES: frozenset[int] = frozenset(
    {
        21211,  # invalid 'To' phone number
        21216,  # number blocked by Twilio's blocklist
        21217,  # phone number does not appear to be valid
        21401,  # invalid phone number
        21407,  # this phone number type does not support SMS or MMS
        21610,  # the person replied STOP: unsubscribed
        21612,  # the 'To' number is not reachable over this route
        21614,  # 'To' number is not a valid mobile number
        13223,  # <Dial>: invalid phone number format
        13224,  # <Dial>: invalid phone number
    }
)
# The message itself can never go as it is (too long, a region our account may not reach).
# 21408/21215: geographic permissions of our account; 21617: body too long; 21619: no body.
MESSAGE_CODES: frozenset[int] = frozenset({21408, 21215, 21617, 21619})


class TwilioSettings(ChannelSettings):
    """Fields shared by `[channels.sms]` and `[channels.voice]`.

    Without `account_sid` the channel writes each message under `capture_dir` (the embedded
    default sets it to `out/sms` or `out/voice`): nothing is sent."""

    account_sid: str = ""
    auth_token: str = Field(default="", repr=False)
    # Where Twilio posts delivery status; the notice's key is added as `?key=...`.
    status_callback_url: str | None = None
    # Link to the full notice, e.g. "https://example.org/notices/{incident_ref}"; the incident's
    # own contact_url is used when this is unset.
    notice_url_template: str | None = None
    timeout: float = Field(default=15.0, gt=0)
    capture_dir: str | None = None
    concurrency: int = Field(default=8, ge=1)


# Builds the SDK's HTTP client (tests pass one that points at Prism); called in the event loop.
HttpClientFactory = Callable[[TwilioSettings], AsyncTwilioHttpClient]


def needs_provider(settings: TwilioSettings) -> bool:
    return not settings.account_sid and not settings.capture_dir


def new_client(
    settings: TwilioSettings, http_client: AsyncTwilioHttpClient | None = None
) -> tuple[Client, AsyncTwilioHttpClient]:
    """An SDK client on one pooled aiohttp session. Call inside the running event loop: the
    session binds to it (the channels create it on first use, never in `__init__`)."""
    http = http_client or AsyncTwilioHttpClient(timeout=settings.timeout)
    return Client(settings.account_sid, settings.auth_token, http_client=http), http


def phone_problem(point: ContactPointData) -> str | None:
    """None when the value is a valid number (international, or national in the person's
    country), else the problem: recorded on the contact point, which routing then avoids."""
    try:
        e164(point.value, point.country)
    except ValueError as exc:
        return str(exc)
    return None


def e164(value: str, country: str | None) -> str:
    """The number in E.164 (`+31612345678`); ValueError says why it is not one."""
    if not value.strip():
        raise ValueError("missing")
    region = (country or "").upper() or None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        reason = "no country code and no country" if region is None else "not a phone number"
        raise ValueError(f"{reason} ({exc.error_type})") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to (or replacing those of) its query string."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    # ":" kept as is: keys read plainly in Twilio's console and URLs pass through clients unchanged.
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()], safe=":")))


def incident_ref(headers: Mapping[str, str], key: str) -> str:
    """The incident reference: the composer's header, else the key's first field."""
    return headers.get("X-Incident-Ref") or key.split(":", 1)[0]


def capture_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40] + ".json"


def write_capture(folder: Path, key: str, record: Mapping[str, Any]) -> Path:
    """One JSON file per message, named by the key's hash, written atomically (a resend of the
    same key replaces the file: the folder holds what each person would have received)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / capture_name(key)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(dict(record), out, ensure_ascii=False, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


@contextmanager
def mapped_errors(channel: str, recipient: str) -> Iterator[None]:
    """Translate SDK and transport errors into the ChannelError tree. Only the codes known to
    be about the number or the message are verdicts; anything else (auth, throttling, 5xx, a
    code we do not know) is the channel's fault and spends nobody's tries."""
    try:
        yield
    except TwilioRestException as exc:
        said = _redacted(exc.msg, recipient)
        reason = f"twilio {exc.status} code {exc.code}: {said}"
        if exc.code in RECIPIENT_CODES:
            raise RecipientRejected(channel, reason) from exc
        if exc.code in MESSAGE_CODES:
            raise MessageRejected(channel, reason) from exc
        if exc.status == 429:  # throttling: the dispatcher slows this sender's bucket down
            raise Throttled(channel, reason) from exc
        if exc.status in (401, 403):
            reason += "; misconfiguration: check account_sid/auth_token"
        raise ChannelFault(channel, reason) from exc
    except TimeoutError as exc:
        raise ChannelTimeout(channel, "twilio timed out") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise ChannelFault(channel, f"cannot reach twilio: {type(exc).__name__}") from exc
    except TwilioException as exc:
        raise ChannelFault(channel, f"twilio client: {_redacted(str(exc), recipient)}") from exc


def _redacted(text: str, recipient: str) -> str:
    # Twilio's messages echo the number; reasons end up in logs, which never carry it.
    for form in {recipient, recipient.lstrip("+")} - {""}:
        text = text.replace(form, "[recipient]")
    return text


# Layouts write the link to the full notice as this slot when the incident has no contact_url;
# the channel fills it from `notice_url_template`, or drops the line when it has none.
NOTICE_URL_SLOT = "{notice_url}"


def notice_url(template: str | None, ref: str) -> str | None:
    return template.format(incident_ref=quote(ref, safe="")) if template else None


def fill_notice_url(text: str, url: str | None) -> str:
    if NOTICE_URL_SLOT not in text:
        return text
    if url:
        return text.replace(NOTICE_URL_SLOT, url)
    return "\n".join(line for line in text.split("\n") if NOTICE_URL_SLOT not in line)


class TwilioChannel(Channel):
    """What SMS and voice share: their settings, and one SDK client made inside the running
    loop (its aiohttp session binds to it), closed with the channel."""

    def __init__(self, settings: Any, *, http_client: HttpClientFactory | None = None) -> None:
        self.settings = settings
        self._http_factory = http_client
        self._client: Client | None = None
        self._http: AsyncTwilioHttpClient | None = None

    def _sdk(self) -> Client:
        if self._client is None:
            http = self._http_factory(self.settings) if self._http_factory else None
            self._client, self._http = new_client(self.settings, http)
        return self._client

    async def aclose(self) -> None:
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()


def capture_into(folder: str) -> Callable[[Any, BuildContext], Any]:
    """The embedded default of a Twilio channel without an account: JSON files under
    out/<folder>."""

    def embedded(settings: Any, ctx: BuildContext) -> Any:
        return settings.model_copy(update={"capture_dir": str(ctx.out_dir / folder)})

    return embedded
