"""Indexes for the lookups made from outside, before anyone is authenticated.

- `ix_attempt_message_id`: a bounce report names its delivery by Message-ID.
- `ix_attempt_provider_id`: a Twilio callback by message or call SID, a print-house return file
  by letter id.
- `ix_attempt_message_prefix` on `substr(message_id, 1, 24)`: a confirmation token carries the
  first 24 hex digits of its delivery's Message-ID (incident.service.confirmation). An
  expression index, so the lookup is an equality whatever the database's collation.

Without them each forged token, bounce or SID was a scan of every delivery attempt.

Revision ID: 0007_securityhttp_lookup_indexes
Revises: 0006_plain_person_ids
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_securityhttp_lookup_indexes"
down_revision: str | Sequence[str] | None = "0006_plain_person_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_attempt_message_id", "delivery_attempt", ["message_id"])
    op.create_index("ix_attempt_provider_id", "delivery_attempt", ["provider_id"])
    op.create_index(
        "ix_attempt_message_prefix", "delivery_attempt", [sa.text("substr(message_id, 1, 24)")]
    )


def downgrade() -> None:
    op.drop_index("ix_attempt_message_prefix", table_name="delivery_attempt")
    op.drop_index("ix_attempt_provider_id", table_name="delivery_attempt")
    op.drop_index("ix_attempt_message_id", table_name="delivery_attempt")
