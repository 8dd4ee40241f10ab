"""Contact points as rows, notices with addressees, delivery events, retry times.

- `contact_point`: one row per email address, phone number, postal address of a person, filled
  from the `person.email`, `person.phone` and `person.postal_address` columns, which go.
- `notice` and `delivery_attempt` name their addressee (a person, the public, an authority);
  existing rows are addressed to their person. The notice's unique key moves from
  (incident, person, version) to (incident, addressee kind, addressee, version).
- `delivery_attempt.not_before` / `updated_at`, `contact_point_id`; `delivery_event` keeps
  every state a delivery went through.

Revision ID: 0002_contact_points_addressees
Revises: 0001_baseline
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_contact_points_addressees"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Unnamed constraints of the baseline get these names in SQLite batch mode (PostgreSQL named
# them itself: <table>_<columns>_key).
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _create_tables() -> None:
    op.create_table(
        "delivery_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delivery_event_idempotency_key", "delivery_event", ["idempotency_key"])
    op.create_table(
        "contact_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("preference", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "kind", "value"),
    )
    op.create_index("ix_contact_point_person_id", "contact_point", ["person_id"])


def _move_contact_columns() -> None:
    """Each person's email, phone and postal address become contact points."""
    op.execute(
        "INSERT INTO contact_point (person_id, kind, value, details, preference) "
        "SELECT id, 'email', email, '{}', 0 FROM person WHERE email IS NOT NULL AND email <> ''"
    )
    op.execute(
        "INSERT INTO contact_point (person_id, kind, value, details, preference) "
        "SELECT id, 'phone', phone, '{}', 0 FROM person WHERE phone IS NOT NULL AND phone <> ''"
    )
    bind = op.get_bind()
    person = sa.table(
        "person", sa.column("id", sa.String()), sa.column("postal_address", sa.JSON())
    )
    point = sa.table(
        "contact_point",
        sa.column("person_id", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("value", sa.String()),
        sa.column("details", sa.JSON()),
        sa.column("preference", sa.Integer()),
    )
    rows = []
    for pid, fields in bind.execute(sa.select(person.c.id, person.c.postal_address)):
        if isinstance(fields, dict) and fields:
            value = "\n".join(str(v) for v in fields.values() if v not in (None, ""))
            rows.append(
                {
                    "person_id": pid,
                    "kind": "postal",
                    "value": value,
                    "details": fields,
                    "preference": 0,
                }
            )
    if rows:
        op.bulk_insert(point, rows)


def upgrade() -> None:
    _create_tables()
    _move_contact_columns()
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("delivery_attempt") as batch:
        batch.add_column(
            sa.Column("addressee_kind", sa.String(), nullable=False, server_default="person")
        )
        batch.add_column(sa.Column("addressee_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("contact_point_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("person_id", existing_type=sa.String(), nullable=True)
    op.execute("UPDATE delivery_attempt SET addressee_id = person_id")
    with op.batch_alter_table("delivery_attempt") as batch:
        batch.alter_column("addressee_id", existing_type=sa.String(), nullable=False)
        batch.alter_column("addressee_kind", existing_type=sa.String(), server_default=None)

    with op.batch_alter_table("notice", naming_convention=_NAMING) as batch:
        batch.add_column(
            sa.Column("addressee_kind", sa.String(), nullable=False, server_default="person")
        )
        batch.add_column(sa.Column("addressee_id", sa.String(), nullable=True))
        batch.alter_column("person_id", existing_type=sa.String(), nullable=True)
        batch.alter_column("recipient_id", existing_type=sa.String(), nullable=True)
        batch.drop_constraint(
            "notice_incident_id_person_id_version_key"
            if postgres
            else "uq_notice_incident_id_person_id_version",
            type_="unique",
        )
    op.execute("UPDATE notice SET addressee_id = person_id")
    with op.batch_alter_table("notice") as batch:
        batch.alter_column("addressee_id", existing_type=sa.String(), nullable=False)
        batch.alter_column("addressee_kind", existing_type=sa.String(), server_default=None)
        batch.create_unique_constraint(
            "uq_notice_addressee", ["incident_id", "addressee_kind", "addressee_id", "version"]
        )

    with op.batch_alter_table("person") as batch:
        batch.drop_column("email")
        batch.drop_column("phone")
        batch.drop_column("postal_address")


def downgrade() -> None:
    raise NotImplementedError("0002 moves contact details into rows; restore a backup instead")
