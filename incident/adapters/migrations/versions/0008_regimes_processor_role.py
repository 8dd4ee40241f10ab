"""The organisation's role for an incident's data, and the controller a processor tells.

- `incident.role`: controller (every existing incident) | processor;
- `incident.controller`: the controller a processor works for (name, email, phone, ...), `{}`
  for a controller. A processor's obligations are to tell it (GDPR Art. 33(2)).

Revision ID: 0008_regimes_processor_role
Revises: 0007_securityhttp_lookup_indexes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_regimes_processor_role"
down_revision: str | Sequence[str] | None = "0007_securityhttp_lookup_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(
            sa.Column("role", sa.String(), nullable=False, server_default="controller")
        )
        batch.add_column(sa.Column("controller", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("controller")
        batch.drop_column("role")
