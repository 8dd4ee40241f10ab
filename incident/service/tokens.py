"""API tokens: `bn_<random>` bearer secrets, stored only as their SHA-256, with a role.

A token is shown once, when it is made. It may expire and be revoked; every use (allowed or
refused for its role, expiry or revocation) is an audit row naming the token, never the secret.
Roles: `viewer` reads; `reporter` reads and raises and edits drafts; `approver` reads and
approves, holds, resumes and cancels; `admin` may do everything.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from incident.adapters.operator_tables import ApiToken
from incident.errors import InvalidInput, NotFound
from incident.service import audit

PREFIX = "bn_"


class Role(StrEnum):
    VIEWER = "viewer"
    REPORTER = "reporter"
    APPROVER = "approver"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class NewToken:
    token_id: str
    secret: str
    expires_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        rule = f"one of {', '.join(r.value for r in Role)}"
        raise InvalidInput("role", value, rule) from None


def create_token(
    engine: Engine, *, name: str, role: Role, now: datetime, expires_days: float | None = None
) -> NewToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name", name, "1 to 100 characters")
    if expires_days is not None and not 0 < expires_days <= 3650:
        raise InvalidInput("expires", expires_days, "between 0 and 3650 days")
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(days=expires_days) if expires_days is not None else None
    token = ApiToken(
        id=f"tok_{secrets.token_hex(6)}",
        name=name,
        role=role.value,
        secret_sha256=_digest(secret),
        created_at=now,
        expires_at=expires,
    )
    token_id = token.id
    with Session(engine) as session:
        session.add(token)
        audit.record(
            session,
            "token_created",
            at=now,
            detail={"token": token_id, "name": name, "role": role.value},
        )
        session.commit()
    return NewToken(token_id, secret, expires)


def list_tokens(engine: Engine) -> list[ApiToken]:
    with Session(engine) as session:
        rows = list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))).all())
        for row in rows:
            session.expunge(row)
    return rows


def revoke_token(engine: Engine, ref: str, *, now: datetime) -> list[str]:
    """Revoke the token with this id, or every live token of this name; returns their ids."""
    with Session(engine) as session:
        rows = session.exec(
            select(ApiToken).where(
                or_(ApiToken.id == ref, ApiToken.name == ref),
                col(ApiToken.revoked_at).is_(None),
            )
        ).all()
        if not rows:
            raise NotFound("token", ref)
        for row in rows:
            row.revoked_at = now
            session.add(row)
            audit.record(session, "token_revoked", at=now, detail={"token": row.id})
        session.commit()
        return [row.id for row in rows]


@dataclass(frozen=True, slots=True)
class Authentication:
    principal: Principal | None
    refusal: str | None  # unknown | expired | revoked


def authenticate(engine: Engine, secret: str, *, now: datetime) -> Authentication:
    """Who a bearer secret belongs to, or why it is refused. Known tokens' uses are audited
    by `record_use`; an unknown secret names nobody and is only counted in the logs."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return Authentication(None, "unknown")
    with Session(engine) as session:
        row = session.exec(
            select(ApiToken).where(ApiToken.secret_sha256 == _digest(secret))
        ).first()
    if row is None:
        return Authentication(None, "unknown")
    principal = Principal(row.id, row.name, Role(row.role))
    if row.revoked_at is not None:
        return Authentication(principal, "revoked")
    if row.expires_at is not None and row.expires_at <= now:
        return Authentication(principal, "expired")
    return Authentication(principal, None)


def record_use(
    engine: Engine, principal: Principal, *, route: str, outcome: str, now: datetime
) -> None:
    """One audit row per use of a known token: the route and whether it was allowed."""
    with Session(engine) as session:
        row = session.get(ApiToken, principal.token_id)
        if row is not None and outcome == "allowed":
            row.last_used_at = now
            session.add(row)
        audit.record(
            session,
            "token_used",
            at=now,
            detail={
                "token": principal.token_id,
                "name": principal.name,
                "role": principal.role.value,
                "route": route,
                "outcome": outcome,
            },
        )
        session.commit()
