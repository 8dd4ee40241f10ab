"""Operators: API tokens, two-person approval, idempotent API requests, a hash-chained audit.

- `api_token`: bearer tokens by public id, name and role; the secret only as its SHA-256.
- `incident_approval`: who approved which content version, when (or the setting that waived it).
- `idempotent_request`: a POST's response by (token, Idempotency-Key).
- `incident.reported_by`: who raised it (they may not approve it).
- `audit_event.seq`/`prev_hash`/`hash`: the hash chain; existing rows are sealed on first use.

Revision ID: 0009_operators_access
Revises: 0008_regimes_processor_role
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_operators_access"
down_revision: str | Sequence[str] | None = "0008_regimes_processor_role"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("secret_sha256", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_sha256", name="uq_api_token_secret"),
    )
    op.create_index("ix_api_token_name", "api_token", ["name"])
    op.create_table(
        "incident_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "version", name="uq_approval_version"),
    )
    op.create_index("ix_incident_approval_incident_id", "incident_approval", ["incident_id"])
    op.create_table(
        "idempotent_request",
        sa.Column("principal", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("route", sa.String(), nullable=False),
        sa.Column("body_sha256", sa.String(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key"),
    )
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("reported_by", sa.String(), nullable=True))
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(), nullable=True))
        batch.create_unique_constraint("uq_audit_event_seq", ["seq"])


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_constraint("uq_audit_event_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("reported_by")
    op.drop_table("idempotent_request")
    op.drop_index("ix_incident_approval_incident_id", table_name="incident_approval")
    op.drop_table("incident_approval")
    op.drop_index("ix_api_token_name", table_name="api_token")
    op.drop_table("api_token")
