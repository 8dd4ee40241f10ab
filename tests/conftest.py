"""Fixtures for the real peers: the local Kafka-protocol broker, PostgreSQL and SQLite, SMTP.

A peer that is missing skips the tests that need it on a developer machine and fails them in
CI (CI=1), so a green CI always means every test ran against its real peer.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import Engine

from incident.adapters.db import create_schema, make_engine
from incident.adapters.local_broker import LocalBroker

pytest_plugins = ["tests.support.smtp"]

POSTGRES_DSN = os.environ.get(
    "BREACHNOTICE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not available, and CI requires every real peer")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalBroker]:
    broker = LocalBroker()
    try:
        broker.start()
    except Exception as exc:  # reported as skip (locally) or failure (CI) with the reason
        _missing(f"the local Kafka-protocol broker ({exc})")
    yield broker
    broker.stop()


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A database URL whose every table lives in a schema of its own, dropped afterwards."""
    schema = f"bn_test_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        _missing(f"PostgreSQL at {POSTGRES_DSN} ({exc})")
    yield f"{POSTGRES_DSN}?options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'breachnotice.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on both engines."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    create_schema(eng)
    yield eng
    eng.dispose()


_PEER_MARKS = {"kafka_broker": "kafka", "postgres_url": "postgres"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the real peers it uses, and the end-to-end ones as slow, so
    `-m 'not slow'` or `-m 'not kafka'` select what a quick local run needs."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        for fixture, mark in _PEER_MARKS.items():
            if fixture in fixtures:
                item.add_marker(mark)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgres":
            item.add_marker("postgres")
        if "/e2e/" in str(item.path) or "/faults/" in str(item.path):
            item.add_marker("slow")
