"""The HTTP endpoints `serve` runs (an ASGI app; the HTTP API will add its routes here):

    POST /callbacks/twilio/status     Twilio status and keypress callbacks (signed)
    POST /callbacks/twilio/inbound    replies to sms notices: "1"/"YES"/... confirms (signed)
    GET  /notices/confirm/{token}     a personal confirmation link: a page with a button,
                                      changing nothing (confirm_routes)
    POST /notices/confirm/{token}     the button: confirms once, then thanks or redirects to
                                      the notice page; any bad token is a bare 404, an old
                                      one 410
    GET  /healthz                     liveness
    GET  /readyz, /metrics            readiness, Prometheus metrics (incident.entrypoints.api_ops)
    /api/v1/...                       the HTTP API with bearer tokens (incident.entrypoints.api_v1)
    GET  /openapi.json                the API's OpenAPI document

Every request body is capped at `[callbacks] max_body_bytes` (413 before it is read); a
client's failed lookups on the confirmation and Twilio routes share one budget (ratelimit):
past `failed_lookups_burst`, then `failed_lookups_per_minute`, it is answered 429.

The Twilio routes are served when an auth token is configured (`[channels.sms] auth_token`);
without one they do not exist. A confirmation, like any receipt, is stored through
incident.service.receipts; a returned delivery's job goes to the outbox with it (`publish`,
when given, observes it).
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from incident.entrypoints import health
from incident.entrypoints.api_auth import PUBLIC, Guards
from incident.entrypoints.api_ops import ops_router
from incident.entrypoints.api_problems import install_problem_handlers
from incident.entrypoints.api_v1 import api_router
from incident.entrypoints.body_limit import BodyLimit
from incident.entrypoints.callbacks import Clock, Publish, auth_token_from, twilio_router
from incident.entrypoints.confirm_routes import confirm_router
from incident.entrypoints.ratelimit import FailureBudget
from incident.errors import ConfigError
from incident.service.confirmation import secret_of
from incident.settings import Settings

log = structlog.get_logger()


def create_app(
    engine: Engine,
    settings: Settings,
    publish: Publish | None = None,
    *,
    clock: Clock = lambda: datetime.now(UTC),
    secret: bytes | None = None,
) -> FastAPI:
    """The app; `secret` overrides the confirmation secret from settings (tests)."""
    app = FastAPI(title="breachnotice", openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, max_bytes=settings.callbacks.max_body_bytes)
    guards = Guards(engine, clock)
    install_problem_handlers(app)
    app.include_router(api_router(engine, settings, guards))
    app.include_router(ops_router(engine, guards))
    budget = FailureBudget(
        burst=settings.callbacks.failed_lookups_burst,
        per_minute=settings.callbacks.failed_lookups_per_minute,
    )
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
                max_form_fields=settings.callbacks.max_form_fields,
                budget=budget,
            )
        )
    link_secret = secret if secret is not None else secret_of(settings)

    @app.get("/healthz", dependencies=[Depends(PUBLIC)])
    async def healthz() -> JSONResponse:
        """200 while every supervised worker is up; 503 naming those restarting or given up."""
        states = health.snapshot()
        if health.healthy(states):
            return JSONResponse({"status": "ok", **({"workers": states} if states else {})})
        return JSONResponse({"status": "degraded", "workers": states}, status_code=503)

    app.include_router(confirm_router(engine, settings.confirmation, link_secret, clock, budget))
    return app
