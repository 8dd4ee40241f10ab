"""Regulator reports and operator-given report items.

- `regulator_report`: one row per version of a report to an authority (phase, supersedes,
  blocked items), linked to the authority notice that carries it.
- `report_item`: report items the incident record does not hold, given by an operator.

Revision ID: 0004_public_reports
Revises: 0003_directory
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_public_reports"
down_revision: str | Sequence[str] | None = "0003_directory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regulator_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("obligation_key", sa.String(), nullable=False),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("supersedes", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "chain", "version", name="uq_regulator_report_version"),
    )
    op.create_index("ix_regulator_report_incident_id", "regulator_report", ["incident_id"])
    op.create_table(
        "report_item",
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("incident_id", "item"),
    )


def downgrade() -> None:
    op.drop_table("report_item")
    op.drop_index("ix_regulator_report_incident_id", table_name="regulator_report")
    op.drop_table("regulator_report")
