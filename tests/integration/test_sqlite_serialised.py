"""SQLite is honest: commits survive a power cut (synchronous=FULL), and a read-then-write that
two workers race on is serialised (`lock_for_update`), as FOR UPDATE does on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from incident.adapters.db import lock_for_update, make_engine, serialised
from incident.errors import ConfigError

counters = MetaData()
counter = Table(
    "counter", counters, Column("id", Integer, primary_key=True), Column("value", Integer)
)


@pytest.fixture()
def counter_db(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    counters.create_all(engine)
    with engine.begin() as connection:
        connection.execute(counter.insert().values(id=1, value=0))
    yield engine
    engine.dispose()


def increment(
    engine: Engine,
    *,
    locked: bool,
    after: threading.Event | None = None,
    has_read: threading.Event | None = None,
    pause: float = 0.0,
) -> None:
    """Read the counter, think for `pause` seconds, write it + 1: a read-then-write."""
    if after is not None:
        assert after.wait(10)
    with Session(engine) as session:
        query = select(counter.c.value).where(counter.c.id == 1)
        if locked:
            query = lock_for_update(session, query)
        value = session.connection().execute(query).scalar_one()
        if has_read is not None:
            has_read.set()
        time.sleep(pause)
        session.connection().execute(
            update(counter).where(counter.c.id == 1).values(value=value + 1)
        )
        session.commit()


def race(engine: Engine, *, locked: bool) -> int:
    """Two workers: the second reads while the first is between its read and its write."""
    first_has_read = threading.Event()
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # reported below
            errors.append(exc)

    first = partial(increment, engine, locked=locked, has_read=first_has_read, pause=0.3)
    second = partial(increment, engine, locked=locked, after=first_has_read)
    workers = [threading.Thread(target=run, args=(work,)) for work in (first, second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    with engine.connect() as connection:
        return int(connection.execute(select(counter.c.value)).scalar_one())


def test_two_workers_racing_under_lock_for_update_both_count(counter_db: Engine) -> None:
    assert race(counter_db, locked=True) == 2


def test_without_the_lock_sqlite_loses_an_update(sqlite_url: str) -> None:
    """The race above is real: on SQLite, FOR UPDATE alone does nothing."""
    engine = make_engine(sqlite_url)
    counters.create_all(engine)
    with engine.begin() as connection:
        connection.execute(counter.insert().values(id=1, value=0))
    try:
        assert race(engine, locked=False) == 1
    finally:
        engine.dispose()


def test_serialised_after_a_write_keeps_the_lock_it_already_holds(counter_db: Engine) -> None:
    with Session(counter_db) as session:
        session.connection().execute(update(counter).values(value=5))
        serialised(session)  # already the writer: nothing to do, no error
        query = lock_for_update(session, select(counter.c.value))
        assert session.connection().execute(query).scalar_one() == 5
        session.commit()


def synchronous(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("PRAGMA synchronous")).scalar_one())


def test_sqlite_commits_are_durable_by_default_and_normal_is_a_choice(sqlite_url: str) -> None:
    full, normal = make_engine(sqlite_url), make_engine(sqlite_url, sqlite_synchronous="normal")
    assert (synchronous(full), synchronous(normal)) == (2, 1)  # FULL, NORMAL
    with full.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    full.dispose()
    normal.dispose()
    with pytest.raises(ConfigError, match="sqlite_synchronous"):
        make_engine(sqlite_url, sqlite_synchronous="sometimes")
