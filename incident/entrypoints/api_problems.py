"""RFC 9457 problem details for the API, and `Idempotency-Key` on its POSTs.

Problems: `application/problem+json` with type, title, status, detail, instance, and for bad
input `errors: [{field, value, rule}]` (the CLI's messages). Only paths under /api and the
operations routes get them; the other routes keep their own answers (a bare 404 for a bad
confirmation link). Never a 500 for bad input: InvalidInput(s) and DocumentError are 422.

Idempotency: a POST with an `Idempotency-Key` (1..200 printable characters) is answered once;
the same key from the same token again gets the stored status and body, for the life of the
incident, and the same key with another body is refused (422).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from incident.adapters.operator_tables import IdempotentRequest
from incident.errors import InvalidInput, InvalidInputs, NotFound, clipped
from incident.service.tokens import Principal

PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    503: "Not ready",
}


def _ours(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/metrics", "/readyz"))


def problem(
    status: int,
    detail: str,
    *,
    instance: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _jsonable(value: Any) -> Any:
    shown = clipped(value)
    if isinstance(shown, str | int | float | bool) or shown is None:
        return shown
    return repr(shown)


def invalid(errors: list[InvalidInput]) -> list[dict[str, Any]]:
    return [{"field": e.field, "value": _jsonable(e.value), "rule": e.rule} for e in errors]


def install_problem_handlers(app: FastAPI) -> None:
    async def on_http(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, StarletteHTTPException)
        if not _ours(request):
            return await http_exception_handler(request, exc)
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    async def on_validation(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, RequestValidationError)
        if not _ours(request):
            return await request_validation_exception_handler(request, exc)
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
                "value": _jsonable(e.get("input")),
                "rule": str(e.get("msg", "")),
            }
            for e in exc.errors()
        ]
        return problem(422, "the request is invalid", instance=request.url.path, errors=errors)

    async def on_invalid(request: Request, exc: Exception) -> Any:
        errors = exc.errors if isinstance(exc, InvalidInputs) else [exc]
        return problem(
            422,
            str(exc).splitlines()[0],
            instance=request.url.path,
            errors=invalid([e for e in errors if isinstance(e, InvalidInput)]),
        )

    async def on_not_found(request: Request, exc: Exception) -> Any:
        return problem(404, str(exc), instance=request.url.path)

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(InvalidInput, on_invalid)
    app.add_exception_handler(InvalidInputs, on_invalid)
    app.add_exception_handler(NotFound, on_not_found)


Action = Callable[[], tuple[int, dict[str, Any], str | None]]  # status, body, incident id


def _valid_key(key: str) -> str:
    if not 0 < len(key) <= 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key", key, "1 to 200 printable characters")
    return key


def _run_once(
    engine: Engine, principal: Principal, key: str, route: str, body: bytes, action: Action
) -> tuple[int, dict[str, Any]]:
    digest = hashlib.sha256(body).hexdigest()
    with Session(engine) as session:
        stored = session.get(IdempotentRequest, (principal.token_id, key))
        if stored is None:
            session.add(
                IdempotentRequest(
                    principal=principal.token_id,
                    key=key,
                    route=route,
                    body_sha256=digest,
                    status_code=0,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                stored = session.get(IdempotentRequest, (principal.token_id, key))
        if stored is not None:
            if stored.route != route or stored.body_sha256 != digest:
                rule = "already used for another request: use a new key"
                raise InvalidInput("Idempotency-Key", key, rule)
            if stored.status_code == 0:
                raise HTTPException(409, "a request with this Idempotency-Key is in progress")
            return stored.status_code, stored.response
    try:
        status, response, incident_id = action()
    except BaseException:
        with Session(engine) as session:  # a refused request may be sent again, fixed
            row = session.get(IdempotentRequest, (principal.token_id, key))
            if row is not None:
                session.delete(row)
                session.commit()
        raise
    with Session(engine) as session:
        row = session.get(IdempotentRequest, (principal.token_id, key))
        assert row is not None
        row.status_code, row.response, row.incident_id = status, response, incident_id
        session.add(row)
        session.commit()
    return status, response


async def once(
    request: Request, engine: Engine, principal: Principal, action: Action
) -> JSONResponse:
    """Run a POST's action, or replay its stored answer when the Idempotency-Key was seen."""
    key = request.headers.get("idempotency-key")
    if key is None:
        status, body, _ = await asyncio.to_thread(action)
        return JSONResponse(body, status_code=status)
    route = f"{request.method} {request.url.path}"
    raw = await request.body()
    status, body = await asyncio.to_thread(
        _run_once, engine, principal, _valid_key(key), route, raw, action
    )
    return JSONResponse(body, status_code=status)
