"""Every route of the ASGI app `serve` runs: each state-changing route (POST, PUT, PATCH,
DELETE) refuses an unsigned, unauthenticated request, over real HTTP. A new state-changing
route fails this test until it names its guard: in GUARDS below, or on the route itself
(`@router.post(..., openapi_extra={"x-guard": "bearer"})`), and the guard is one of ATTACKS."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute

from incident.entrypoints.api_auth import declared_roles
from incident.entrypoints.http_app import create_app
from tests.security.conftest import SECRET, Service
from tests.security.test_confirmation_links import request

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# guard -> (what an attacker sends besides the method and path, the answers that refuse it)
ATTACKS: dict[str, tuple[dict[str, str], set[int]]] = {
    "twilio-signature": ({}, {403}),  # no X-Twilio-Signature
    "confirmation-token": ({}, {404}),  # a token we never issued
    "bearer": ({}, {401, 403}),  # the operator API: no Authorization header
}
GUARDS = {
    ("POST", "/callbacks/twilio/status"): "twilio-signature",
    ("POST", "/callbacks/twilio/inbound"): "twilio-signature",
    ("POST", "/notices/confirm/{token}"): "confirmation-token",
}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, through included routers (FastAPI keeps them as _IncludedRouter)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        inner = getattr(route, "original_router", None) or route
        if inner is not route or hasattr(route, "routes"):
            found.extend(api_routes(list(getattr(inner, "routes", []))))
    return found


def guard_of(route: APIRoute, method: str) -> str | None:
    """x-guard on the route, the table, or the operator API's role guard (a bearer token)."""
    declared = (route.openapi_extra or {}).get("x-guard")
    if declared:
        return str(declared)
    if isinstance(declared_roles(route), frozenset):
        return "bearer"
    return GUARDS.get((method, route.path))


def test_every_state_changing_route_refuses_an_unauthenticated_request(
    service: Service,
) -> None:
    app = create_app(service.engine, service.settings, lambda job: None, secret=SECRET)
    routes = api_routes(list(app.routes))
    assert {r.path for r in routes} >= {p for _, p in GUARDS}  # the table names real routes
    walked = []
    for route in routes:
        for method in sorted(route.methods & STATE_CHANGING):
            guard = guard_of(route, method)
            assert guard in ATTACKS, f"{method} {route.path} declares no known guard ({guard})"
            headers, refusals = ATTACKS[guard]
            path = re.sub(r"\{token\}", "A" * 38, route.path)
            path = re.sub(r"\{[^}]+\}", "x", path)
            status, _ = request(f"{service.url}{path}", method, **headers)
            assert status in refusals, (method, route.path, status)
            walked.append((method, route.path))
    assert set(walked) >= set(GUARDS)
