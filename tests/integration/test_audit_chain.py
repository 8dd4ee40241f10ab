"""The audit trail is one hash chain: `audit verify` names the first altered, inserted or
deleted row, on SQLite and PostgreSQL, and exits 2 when the chain is broken."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from incident.adapters.tables import AuditEvent
from incident.entrypoints.cli import app
from incident.service import audit

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _append(engine: Engine, n: int) -> None:
    with Session(engine) as session:
        for i in range(n):
            audit.record(
                session,
                "incident_raised" if i % 2 else "token_used",
                at=T0 + timedelta(minutes=i),
                incident_id=f"INC-{i % 3}",
                detail={"n": i, "who": "alice", "note": "zürich"},
            )
        session.commit()
    audit.seal_pending(engine)


def _row(engine: Engine, seq: int) -> AuditEvent:
    with Session(engine) as session:
        row = session.exec(select(AuditEvent).where(AuditEvent.seq == seq)).one()
        session.expunge(row)
        return row


def test_an_untouched_chain_verifies_and_new_rows_extend_it(engine: Engine) -> None:
    """Sealing twice chains the later rows onto the head of the earlier ones."""
    _append(engine, 5)
    first = audit.chain_head(engine)
    _append(engine, 3)
    verdict = audit.verify_chain(engine, expect_head=first.hash)
    assert verdict.ok and verdict.rows == 8 and first.seq == 5
    assert _row(engine, 6).prev_hash == first.hash
    assert audit.seal_pending(engine) == 0


def test_an_altered_row_is_named(engine: Engine) -> None:
    _append(engine, 6)
    with Session(engine) as session:
        row = session.exec(select(AuditEvent).where(AuditEvent.seq == 4)).one()
        row.detail = {**row.detail, "who": "mallory"}
        session.add(row)
        session.commit()
    verdict = audit.verify_chain(engine)
    assert not verdict.ok and verdict.problem == "altered"
    assert verdict.seq == 4 and verdict.row_id == _row(engine, 4).id


def test_an_inserted_row_is_named_even_with_its_own_hash_recomputed(engine: Engine) -> None:
    """The forger renumbers the rows after it and gives the new row a correct hash: the row
    after it still links to the row before it."""
    _append(engine, 6)
    with Session(engine) as session:
        for seq in range(6, 3, -1):  # make room at seq 4, from the top down (unique seq)
            session.execute(
                text("UPDATE audit_event SET seq = :new WHERE seq = :old"),
                {"new": seq + 1, "old": seq},
            )
        forged = AuditEvent(
            kind="incident_approved",
            at=T0,
            incident_id="INC-1",
            detail={"by": "mallory"},
            seq=4,
            prev_hash=_row(engine, 3).hash,
        )
        session.add(forged)
        session.flush()
        forged.hash = audit.row_hash(forged)
        session.add(forged)
        session.commit()
        forged_id = forged.id
    verdict = audit.verify_chain(engine)
    assert not verdict.ok and verdict.problem == "inserted"
    assert verdict.row_id == forged_id


def test_a_deleted_row_is_named_and_so_is_a_deleted_tail(engine: Engine) -> None:
    _append(engine, 6)
    head = audit.chain_head(engine).hash
    with Session(engine) as session:
        session.execute(text("DELETE FROM audit_event WHERE seq = 6"))
        session.commit()
    tail = audit.verify_chain(engine, expect_head=head)
    assert not tail.ok and tail.problem == "deleted"
    with Session(engine) as session:
        session.execute(text("DELETE FROM audit_event WHERE seq = 3"))
        session.commit()
    verdict = audit.verify_chain(engine)
    assert not verdict.ok and verdict.problem == "deleted" and verdict.seq == 4


def test_audit_verify_exits_2_on_a_broken_chain_and_0_on_an_intact_one(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", database_url)
    monkeypatch.setenv("BREACHNOTICE_DATABASE_AUTO_UPGRADE", "true")
    _append(engine, 4)
    ok = CliRunner().invoke(app, ["audit", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["rows"] == 4
    with Session(engine) as session:
        first = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).first()
        assert first is not None
        first.kind = "nothing_happened"
        session.add(first)
        session.commit()
    broken = CliRunner().invoke(app, ["audit", "verify"])
    assert broken.exit_code == 2
    assert "altered" in broken.stderr and "seq 1" in broken.stderr
