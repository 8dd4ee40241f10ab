"""Directory: when each account was opened and last used; the risk of each affected person.

- `person.created_at`, `person.last_active_at`: nullable instants; scopes select people by
  them (`created_between`, `active_between`). Existing people have neither.
- `affected_person.risk`: high | medium | low from `config/risk.toml`; rows enriched before
  this revision keep NULL (their risk was never assessed per person).

Revision ID: 0003_directory
Revises: 0002_contact_points_addressees
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_directory"
down_revision: str | Sequence[str] | None = "0002_contact_points_addressees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("affected_person") as batch:
        batch.add_column(sa.Column("risk", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("affected_person") as batch:
        batch.drop_column("risk")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("last_active_at")
        batch.drop_column("created_at")
