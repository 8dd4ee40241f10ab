"""Deadline alerts to the incident's owners.

- `alert_sent`: one row per alert (obligation, point before its due time or "missed", owner),
  claimed before the channel call so each alert goes out once.

Revision ID: 0005_alerts
Revises: 0004_public_reports
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_alerts"
down_revision: str | Sequence[str] | None = "0004_public_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_sent",
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("obligation_key", sa.String(), nullable=False),
        sa.Column("point", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("idempotency_key"),
    )
    op.create_index("ix_alert_sent_incident", "alert_sent", ["incident_id", "obligation_key"])


def downgrade() -> None:
    op.drop_index("ix_alert_sent_incident", table_name="alert_sent")
    op.drop_table("alert_sent")
