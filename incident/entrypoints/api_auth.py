"""Who may call an API route: every route declares its roles with a `RoleGuard` dependency.

    principal: Principal = Depends(guards.allow(Role.APPROVER))   # approvers (and admins)
    dependencies=[Depends(PUBLIC)]                                  # no token (health checks)

A request without a bearer token, or with an unknown, expired or revoked one, gets 401; a
token whose role the route does not allow gets 403. Every use of a known token is audited
(incident.service.tokens.record_use). `declared_roles(route)` reads a route's declaration, so a
test can prove that no route is left undeclared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import structlog
from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute

from incident.service.tokens import Principal, Role, authenticate, record_use

log = structlog.get_logger()
Clock = Callable[[], datetime]
READERS = (Role.VIEWER, Role.REPORTER, Role.APPROVER)


class Unauthorized(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": 'Bearer realm="breachnotice"'})


class RoleGuard:
    """A dependency that authenticates the bearer token and checks its role; `roles` None:
    a public route (declared so, on purpose)."""

    def __init__(
        self, roles: frozenset[Role] | None, engine: Engine | None, clock: Clock | None
    ) -> None:
        self.roles, self._engine, self._clock = roles, engine, clock

    async def __call__(self, request: Request) -> Principal | None:
        if self.roles is None:
            return None
        assert self._engine is not None and self._clock is not None
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        now = self._clock()
        auth = await asyncio.to_thread(authenticate, self._engine, secret.strip(), now=now)
        route = f"{request.method} {request.url.path}"
        if auth.principal is None:
            log.warning("api_token_unknown", route=route)
            raise Unauthorized("the token is not known")
        outcome = auth.refusal or ("allowed" if auth.principal.role in self.roles else "forbidden")
        await asyncio.to_thread(
            record_use, self._engine, auth.principal, route=route, outcome=outcome, now=now
        )
        if auth.refusal is not None:
            raise Unauthorized(f"the token is {auth.refusal}")
        if outcome == "forbidden":
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise HTTPException(403, f"role {auth.principal.role.value!r} may not; needs {allowed}")
        return auth.principal


PUBLIC = RoleGuard(None, None, None)


class Guards:
    """The guards of one app (they share its engine and clock)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine, self.clock = engine, clock

    def allow(self, *roles: Role) -> RoleGuard:
        """These roles, and admin, may call the route."""
        return RoleGuard(frozenset({*roles, Role.ADMIN}), self._engine, self.clock)

    def readers(self) -> RoleGuard:
        return self.allow(*READERS)


def _guards(dependant: Dependant) -> Iterable[RoleGuard]:
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleGuard):
            yield dep.call
        yield from _guards(dep)


@dataclass(frozen=True)
class RouteInfo:
    path: str  # with the prefixes of the routers it was included through
    methods: frozenset[str]
    route: BaseRoute
    guards: tuple[RoleGuard, ...]  # its own and its routers' (include_router dependencies)

    @property
    def roles(self) -> frozenset[Role] | bool | None:
        """The roles it allows; None when declared public; False when undeclared."""
        return self.guards[0].roles if self.guards else False


def walk_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[RouteInfo]:
    """Every route of an app, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            context = getattr(route, "include_context", None)
            inherited = [
                d.dependency
                for d in getattr(context, "dependencies", [])
                if isinstance(d.dependency, RoleGuard)
            ]
            for info in walk_routes(nested.routes, prefix + getattr(context, "prefix", "")):
                yield RouteInfo(info.path, info.methods, info.route, (*inherited, *info.guards))
            continue
        dependant = getattr(route, "dependant", None)
        guards = tuple(_guards(dependant)) if dependant is not None else ()
        methods = frozenset(getattr(route, "methods", None) or ())
        yield RouteInfo(prefix + str(getattr(route, "path", "")), methods, route, guards)


def declared_roles(route: BaseRoute) -> frozenset[Role] | bool | None:
    """The roles a route allows; None for a route declared public; False when undeclared."""
    return next(walk_routes([route])).roles
