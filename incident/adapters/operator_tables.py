"""Tables of the operators' side: API tokens, approvals and idempotent API requests.

- `api_token`: a bearer token's public id, name and role; only the SHA-256 of the secret is kept.
- `incident_approval`: who approved which content version of an incident, and when (or that a
  setting waived the approval, with the reason).
- `idempotent_request`: the response given to a POST with an `Idempotency-Key`, kept for the
  life of the incident so a retried request gets the same answer and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from incident.adapters.tables import UtcDateTime, utcnow


def _instant() -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


def _required_instant() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("secret_sha256", name="uq_api_token_secret"),)
    id: str = Field(primary_key=True)  # "tok_<hex>": shown in lists and audit rows
    name: str = Field(index=True)  # the person or system using it: who acted
    role: str  # reporter | approver | viewer | admin
    secret_sha256: str
    created_at: datetime = _required_instant()
    expires_at: datetime | None = _instant()
    revoked_at: datetime | None = _instant()
    last_used_at: datetime | None = _instant()


class IncidentApproval(SQLModel, table=True):
    __tablename__ = "incident_approval"
    __table_args__ = (UniqueConstraint("incident_id", "version", name="uq_approval_version"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True)
    version: int  # the incident's notice_version approved
    content_sha256: str  # of the content sections approved (canonical JSON)
    decided_by: str  # the approver, or "setting" when waived
    decided_at: datetime = _required_instant()
    waived: bool = False
    reason: str | None = None


class IdempotentRequest(SQLModel, table=True):
    __tablename__ = "idempotent_request"
    principal: str = Field(primary_key=True)  # the token id that sent it
    key: str = Field(primary_key=True)  # the Idempotency-Key header
    route: str  # "POST /api/v1/incidents"
    body_sha256: str
    status_code: int
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    incident_id: str | None = None
    created_at: datetime = _required_instant()
