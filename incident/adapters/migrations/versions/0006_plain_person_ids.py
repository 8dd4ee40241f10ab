"""Person ids in incident records become plain identifiers; contact points get a lookup index.

- The foreign keys from `affected_person.person_id`/`recipient_id`, `notice.person_id`/
  `recipient_id` and `delivery_attempt.person_id` to `person.id` go. The directory is a copy of
  the platform's users, which may erase a person; what they were told stays as evidence, by id.
  And on PostgreSQL a key check per inserted row was the largest single cost of enrichment
  (~18 us a row for three keys). The keys to `incident.id` stay.
- `ix_contact_point_kind_value`: a records file keyed by email or phone, and dedupe, look
  people up by contact value.
- `ix_affected_person_incident_id` goes: the unique key (incident_id, person_id) serves every
  lookup by incident, and enrichment paid for the second index on every row.

Revision ID: 0006_plain_person_ids
Revises: 0005_alerts
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_plain_person_ids"
down_revision: str | Sequence[str] | None = "0005_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's foreign keys are unnamed: batch mode names them by this convention. PostgreSQL named
# them itself: <table>_<column>_fkey.
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_PERSON_KEYS = {
    "affected_person": ("person_id", "recipient_id"),
    "notice": ("person_id", "recipient_id"),
    "delivery_attempt": ("person_id",),
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in _PERSON_KEYS.items():
        with op.batch_alter_table(table, naming_convention=_NAMING) as batch:
            for column in columns:
                name = f"{table}_{column}_fkey" if postgres else f"fk_{table}_{column}_person"
                batch.drop_constraint(name, type_="foreignkey")
    op.create_index("ix_contact_point_kind_value", "contact_point", ["kind", "value"])
    op.drop_index("ix_affected_person_incident_id", table_name="affected_person")


def downgrade() -> None:
    op.create_index("ix_affected_person_incident_id", "affected_person", ["incident_id"])
    op.drop_index("ix_contact_point_kind_value", table_name="contact_point")
    for table, columns in _PERSON_KEYS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.create_foreign_key(None, "person", [column], ["id"])
