"""Item 5 of issue 23: what anyone can send (a token, a bounce's Message-ID, a Twilio SID) is
found through an index, never a scan of every delivery, and a client whose lookups keep failing
is answered 429. The indexes are checked where they are used: the databases' own query plans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from incident.adapters.db import create_schema, make_engine
from incident.adapters.tables import DeliveryAttempt, message_id_prefix
from incident.entrypoints.callbacks import PATH
from incident.settings import CallbackSettings
from tests.security.conftest import Start
from tests.security.seeding import seed_email_and_letter
from tests.security.test_confirmation_links import request

INDEXES = {"ix_attempt_message_id", "ix_attempt_provider_id", "ix_attempt_message_prefix"}


@pytest.fixture()
def migrated(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_schema(engine)  # every migration, to head
    yield engine
    engine.dispose()


def lookups() -> dict[str, Any]:
    """The lookups made from outside, as the code makes them."""
    return {
        "ix_attempt_message_prefix": select(DeliveryAttempt.idempotency_key).where(
            message_id_prefix() == "ab" * 12
        ),  # a confirmation token
        "ix_attempt_message_id": select(DeliveryAttempt).where(
            col(DeliveryAttempt.message_id) == "ab@example.org"
        ),  # a bounce report
        "ix_attempt_provider_id": select(DeliveryAttempt).where(
            col(DeliveryAttempt.provider_id) == "SM123"
        ),  # a Twilio callback, a print-house return file
    }


def plan(engine: Engine, statement: Any) -> str:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            return "\n".join(str(r[-1]) for r in rows)
        connection.execute(text("SET enable_seqscan = off"))  # an empty table: force the choice
        return "\n".join(r[0] for r in connection.execute(text("EXPLAIN " + sql)).all())


def test_the_lookups_from_outside_use_the_indexes_of_migration_0007(migrated: Engine) -> None:
    with migrated.connect() as connection:
        if migrated.dialect.name == "sqlite":
            names = set(
                connection.execute(
                    text("SELECT name FROM sqlite_master WHERE tbl_name = 'delivery_attempt'")
                ).scalars()
            )
        else:
            names = {i["name"] for i in inspect(connection).get_indexes("delivery_attempt")}
    assert names >= INDEXES
    for index, statement in lookups().items():
        used = plan(migrated, statement)
        assert index in used and "SCAN delivery_attempt\n" not in used + "\n", (index, used)


def test_a_client_whose_lookups_keep_failing_is_answered_429(start: Start) -> None:
    service = start(callbacks=CallbackSettings(failed_lookups_burst=5, failed_lookups_per_minute=0))
    _, token = seed_email_and_letter(service.engine)
    forged = f"{service.url}/notices/confirm/{'A' * 38}"
    assert [request(forged)[0] for _ in range(5)] == [404] * 5
    assert request(forged)[0] == 429
    assert request(f"{service.url}/notices/confirm/{token}")[0] == 429  # nothing more for it
    assert request(f"{service.url}{PATH}", "POST")[0] == 429  # the Twilio routes share it
    assert request(f"{service.url}/healthz")[0] == 200


def test_unsigned_twilio_callbacks_spend_the_budget_too(start: Start) -> None:
    service = start(callbacks=CallbackSettings(failed_lookups_burst=3, failed_lookups_per_minute=0))
    assert [request(f"{service.url}{PATH}", "POST")[0] for _ in range(4)] == [403, 403, 403, 429]
