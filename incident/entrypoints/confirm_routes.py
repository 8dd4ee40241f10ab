"""The personal confirmation link's routes (incident.service.confirmation):

    GET  /notices/confirm/{token}    a page with one button; changes nothing (mail scanners
                                     and link previews open every link they see)
    POST /notices/confirm/{token}    confirms the notice, once; then thanks, or redirects to
                                     `[confirmation] redirect_url`

A malformed, forged or unknown token is a bare 404 either way; a link older than
`[confirmation] valid_days` (from its notice's sending) is 410 with a page saying so. Failed
lookups count against the client's budget (ratelimit): past it, 429.
"""

from __future__ import annotations

import asyncio
import functools
from html import escape

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from incident.domain.model import AttemptStatus, DeliverySource
from incident.entrypoints.callbacks import Clock
from incident.entrypoints.ratelimit import FailureBudget, check, spend
from incident.errors import NotFound
from incident.service.confirmation import Issued, lookup
from incident.service.receipts import apply_receipt
from incident.settings import ConfirmationSettings

log = structlog.get_logger()

CONFIRM_PATH = "/notices/confirm/{token}"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">
<h1>{title}</h1>{body}</body></html>
"""
_ASK = """<p>Please confirm that you received our notice (reference {ref}).</p>
<form method="post" action="">
<input type="hidden" name="token" value="{token}">
<button type="submit" style="font-size:1.2em;padding:.5em 1em">I received the notice</button>
</form>"""
_THANKS = """<p>We have recorded that you received our notice (reference {ref}).</p>
<p>You will not receive it again by another channel.</p>"""
_EXPIRED = """<p>This confirmation link has expired. If you have questions about our notice
(reference {ref}), please use the contact details it gives.</p>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=title, body=body), status_code=status)


def confirm_router(
    engine: Engine,
    settings: ConfirmationSettings,
    secret: bytes,
    clock: Clock,
    budget: FailureBudget | None = None,
) -> APIRouter:
    router = APIRouter()

    async def issued(token: str, request: Request) -> Issued | Response:
        check(budget, request)
        found = await asyncio.to_thread(lookup, engine, token, secret)
        if found is None:
            spend(budget, request)
            log.warning("confirmation_refused")
            return PlainTextResponse("Not Found", status_code=404)
        if found.expired(clock(), settings.valid_days):
            log.info("confirmation_expired")
            ref = escape(found.key.split(":", 1)[0])
            return page("Link expired", _EXPIRED.format(ref=ref), status=410)
        return found

    @router.get(CONFIRM_PATH)
    async def ask(token: str, request: Request) -> Response:
        found = await issued(token, request)
        if isinstance(found, Response):
            return found
        ref = escape(found.key.split(":", 1)[0])
        return page("Confirm", _ASK.format(ref=ref, token=escape(token)))

    @router.post(CONFIRM_PATH)
    async def confirm(token: str, request: Request) -> Response:
        found = await issued(token, request)
        if isinstance(found, Response):
            return found
        record = functools.partial(
            apply_receipt,
            engine,
            status=AttemptStatus.CONFIRMED,
            source=DeliverySource.CONFIRMATION_LINK.value,
            now=clock(),
            key=found.key,
            once=True,
        )
        try:
            outcome = await asyncio.to_thread(record)
        except NotFound:
            return PlainTextResponse("Not Found", status_code=404)
        incident = found.key.split(":", 1)[0]
        log.info("confirmation_link", applied=outcome.applied)
        if settings.redirect_url:
            url = settings.redirect_url.replace("{incident}", incident).replace("{token}", token)
            return RedirectResponse(url, status_code=303)
        return page("Thank you", _THANKS.format(ref=escape(incident)))

    return router
