"""A database exactly as release 0.1.0 made it, from its frozen DDL, with rows in it.

`release_v1_<dialect>.sql` is what `SQLModel.metadata.create_all` emitted at commit 2e27612;
the rows are written through tables reflected from that database, so neither depends on the
models as they are today.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, insert, select
from sqlalchemy.engine import Engine

HERE = Path(__file__).parent
AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def create_release_v1_database(engine: Engine) -> None:
    """The tables, indexes and schema_info row release 0.1.0's create_schema left."""
    ddl = (HERE / f"release_v1_{engine.dialect.name}.sql").read_text(encoding="utf-8")
    with engine.begin() as connection:
        for statement in ddl.split("\n;\n"):
            code = "\n".join(
                line for line in statement.splitlines() if not line.startswith("--")
            ).strip()
            if code:
                connection.exec_driver_sql(code)
        connection.exec_driver_sql("INSERT INTO schema_info (id, version) VALUES (1, 1)")


def _people() -> list[dict[str, Any]]:
    common: dict[str, Any] = {"postal_address": {}, "locale": "en", "country": "NL", "region": None}
    return [
        common
        | {"id": "guardian-1", "name": "Gerda", "email": "g@example.org", "phone": None}
        | {"birth_date": "1980-01-01", "is_minor": False, "guardian_id": None}
        | {"channel_preferences": ["email"]},
        common
        | {"id": "minor-1", "name": "Mo", "email": None, "phone": "+31612345678"}
        | {"birth_date": "2015-05-05", "is_minor": True, "guardian_id": "guardian-1"}
        | {"channel_preferences": []},
    ]


def release_v1_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows for every table of 0.1.0 (but schema_info), in an order foreign keys accept."""
    texts = {"en": "text"}
    return {
        "person": _people(),
        "incident": [
            {"id": "inc-1", "title": "Leak", "severity": "high", "status": "enriched"}
            | {k: texts for k in ("description", "impact", "measures_taken", "advice")}
            | {"measures_planned": {}, "remedies": {}, "categories": ["email_address"]}
            | {"scope": {"all": True}, "flags": {"encrypted": False}, "contact": texts}
            | {"aware_at": AT, "discovered_at": AT, "occurred_at": None}
            | {"created_at": AT, "notice_version": 1}
        ],
        "affected_person": [
            {"id": 1, "incident_id": "inc-1", "person_id": "minor-1", "jurisdiction": "NL"}
            | {"categories": ["email_address"], "is_minor": True, "recipient_id": "guardian-1"}
            | {"contact_problems": {"email": "missing"}}
        ],
        "notice": [
            {"id": 1, "incident_id": "inc-1", "person_id": "minor-1", "recipient_id": "guardian-1"}
            | {"version": 1, "status": "sent", "channel": "email", "reason": None}
            | {"created_at": AT, "updated_at": AT}
        ],
        "delivery_attempt": [
            {"idempotency_key": "inc-1:minor-1:email:1", "incident_id": "inc-1"}
            | {"person_id": "minor-1", "channel": "email", "notice_version": 1, "status": "sent"}
            | {"message_id": "<k@example.org>", "provider_id": "250 ok", "worker_id": "w1"}
            | {"tries": 1, "error": None, "claimed_at": AT, "sent_at": AT}
        ],
        "outbox": [
            {"id": 1, "topic": "incidents", "key": "inc-1", "payload": {"incident_id": "inc-1"}}
            | {"created_at": AT, "published_at": AT}
        ],
        "processed_event": [{"consumer": "enricher", "event_id": "e-1", "processed_at": AT}],
        "audit_event": [
            {"id": 1, "incident_id": "inc-1", "kind": "raised", "detail": {"by": "cli"}, "at": AT}
        ],
        "obligation": [_obligation()],
        "incident_clock": [
            {"incident_id": "inc-1", "name": "determined_at", "at": AT}
            | {"national_security": False, "recorded_at": AT}
        ],
    }


def _obligation() -> dict[str, Any]:
    return {
        "id": 1,
        "incident_id": "inc-1",
        "key": "gdpr-33/authority/NL",
        "rule_id": "gdpr-33",
        "regime": "GDPR",
        "recipient": "authority",
        "recipient_name": "Autoriteit Persoonsgegevens",
        "stage": "initial",
        "jurisdiction": "NL",
        "persons": 1,
        "reason": "personal data breach",
        "citation": "GDPR Art. 33(1)",
        "deadline": "72h",
        "clock_note": "from awareness",
        "time_zone": "Europe/Amsterdam",
        "clock_start_kind": "aware_at",
        "clock_start": AT,
        "due": AT,
        "target": None,
        "content_items": ["nature"],
        "forbidden_items": [],
        "substitute_notice": {},
        "law_enforcement_delay": "none",
        "status": "open",
        "met_at": None,
        "facts_hash": "abc",
        "computed_at": AT,
        "superseded_at": None,
    }


def reflect(engine: Engine) -> MetaData:
    metadata = MetaData()
    metadata.reflect(engine)
    return metadata


def insert_rows(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    tables = reflect(engine).tables
    with engine.begin() as connection:
        for name, table_rows in rows.items():
            connection.execute(insert(tables[name]), table_rows)


def dump(engine: Engine, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every row of the named tables, as reflected from the database now."""
    tables = reflect(engine).tables
    with engine.connect() as connection:
        return {
            name: [
                dict(row._mapping)
                for row in connection.execute(
                    select(tables[name]).order_by(*tables[name].primary_key)
                )
            ]
            for name in names
        }
