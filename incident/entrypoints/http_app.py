"""The HTTP endpoints `serve` runs (an ASGI app; the HTTP API will add its routes here):

    POST /callbacks/twilio/status     Twilio status and keypress callbacks (signed)
    POST /callbacks/twilio/inbound    replies to sms notices: "1"/"YES"/... confirms (signed)
    GET  /notices/confirm/{token}     a personal confirmation link: confirms, then thanks or
                                      redirects to the notice page; any bad token is a bare 404
    GET  /healthz                     liveness
    GET  /readyz, /metrics            readiness, Prometheus metrics (incident.entrypoints.api_ops)
    /api/v1/...                       the HTTP API with bearer tokens (incident.entrypoints.api_v1)
    GET  /openapi.json                the API's OpenAPI document

The Twilio routes are served when an auth token is configured (`[channels.sms] auth_token`);
without one they do not exist. A confirmation, like any receipt, is stored through
incident.service.receipts; a returned delivery's job is handed to `publish`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from html import escape

import structlog
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from incident.domain.model import AttemptStatus, DeliverySource
from incident.entrypoints.api_auth import PUBLIC, Guards
from incident.entrypoints.api_ops import ops_router
from incident.entrypoints.api_problems import install_problem_handlers
from incident.entrypoints.api_v1 import api_router
from incident.entrypoints.callbacks import Clock, Publish, auth_token_from, twilio_router
from incident.errors import ConfigError, NotFound
from incident.service.confirmation import key_for, secret_of
from incident.service.receipts import apply_receipt
from incident.settings import Settings

log = structlog.get_logger()

CONFIRM_PATH = "/notices/confirm/{token}"
_THANKS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Thank you</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">
<h1>Thank you</h1><p>We have recorded that you received our notice (reference {ref}).</p>
<p>You will not receive it again by another channel.</p></body></html>
"""


def create_app(
    engine: Engine,
    settings: Settings,
    publish: Publish,
    *,
    clock: Clock = lambda: datetime.now(UTC),
    secret: bytes | None = None,
) -> FastAPI:
    """The app; `secret` overrides the confirmation secret from settings (tests)."""
    app = FastAPI(title="breachnotice", openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    guards = Guards(engine, clock)
    install_problem_handlers(app)
    app.include_router(api_router(engine, settings, guards))
    app.include_router(ops_router(engine, guards))
    try:
        token = auth_token_from(settings)
    except ConfigError:
        log.info("twilio_callbacks_off", reason="no auth token configured")
    else:
        app.include_router(
            twilio_router(
                engine=engine,
                auth_token=token,
                publish=publish,
                public_url=settings.callbacks.public_url,
                clock=clock,
            )
        )
    link_secret = secret if secret is not None else secret_of(settings)
    redirect = settings.confirmation.redirect_url

    @app.get("/healthz", dependencies=[Depends(PUBLIC)])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(CONFIRM_PATH)
    async def confirm(token: str) -> Response:
        key = await asyncio.to_thread(key_for, engine, token, link_secret)
        if key is None:
            log.warning("confirmation_refused")
            return PlainTextResponse("Not Found", status_code=404)
        try:
            outcome = await asyncio.to_thread(
                apply_receipt,
                engine,
                status=AttemptStatus.CONFIRMED,
                source=DeliverySource.CONFIRMATION_LINK.value,
                now=clock(),
                key=key,
            )
        except NotFound:
            return PlainTextResponse("Not Found", status_code=404)
        incident = key.split(":", 1)[0]
        log.info("confirmation_link", applied=outcome.applied)
        if redirect:
            url = redirect.replace("{incident}", incident).replace("{token}", token)
            return RedirectResponse(url, status_code=303)
        return HTMLResponse(_THANKS.replace("{ref}", escape(incident)))

    return app
