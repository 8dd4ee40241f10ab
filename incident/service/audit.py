"""The tamper-evident audit trail: every `audit_event` row is sealed into one hash chain.

Rows are appended by whoever acts (intake, approval, tokens, dispatch...) in their own
transaction, as before. `seal_pending` then gives each committed, unsealed row, in id order,
the next `seq`, the previous row's hash and its own hash: SHA-256 over the canonical JSON of
the row (sorted keys, no spaces, UTF-8) including `seq` and `prev_hash`. Sealing is one writer
at a time (an advisory lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and runs in `serve`'s
relay loop, after every operator command and before `audit verify`; writers never wait on it.

`verify_chain` walks the chain and reports the first row that was altered (its hash does not
match its content), inserted (the row after it links to the row before it), or deleted (a gap
in `seq`, or the head given from an evidence pack is not in the chain).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from incident.adapters.db import serialised
from incident.adapters.tables import AuditEvent

GENESIS = "0" * 64
_SEAL_LOCK = 0x626E6175  # pg_advisory_xact_lock key: one sealer at a time ("bnau")
_PAGE = 1000


def record(
    session: Session,
    kind: str,
    *,
    at: datetime,
    incident_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit row in the caller's transaction (sealed after it commits)."""
    session.add(AuditEvent(incident_id=incident_id, kind=kind, at=at, detail=detail or {}))


def canonical(row: AuditEvent) -> bytes:
    body = {
        "seq": row.seq,
        "id": row.id,
        "incident_id": row.incident_id,
        "kind": row.kind,
        "at": row.at.astimezone(UTC).isoformat(),
        "detail": row.detail,
        "prev_hash": row.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(row: AuditEvent) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def _lock(session: Session) -> None:
    serialised(session)
    if session.connection().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEAL_LOCK})


def _first_unsealed(session: Session) -> int | None:
    return session.exec(select(AuditEvent.id).where(col(AuditEvent.seq).is_(None)).limit(1)).first()


def seal_pending(engine: Engine) -> int:
    """Chain every committed unsealed row; returns how many were sealed."""
    sealed = 0
    with Session(engine) as session:
        if _first_unsealed(session) is None:
            return 0  # the common case, without taking the sealer's lock
        session.rollback()
        _lock(session)
        head = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq).is_not(None))
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        ).first()
        seq, prev = (head.seq or 0, head.hash or GENESIS) if head is not None else (0, GENESIS)
        while True:
            rows = session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.seq).is_(None))
                .order_by(col(AuditEvent.id))
                .limit(_PAGE)
            ).all()
            if not rows:
                break
            for row in rows:
                seq += 1
                row.seq, row.prev_hash = seq, prev
                row.hash = prev = row_hash(row)
                session.add(row)
            session.flush()
            sealed += len(rows)
        session.commit()
    return sealed


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str
    unsealed: int


def chain_head(engine: Engine) -> ChainHead:
    with Session(engine) as session:
        head = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq).is_not(None))
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        ).first()
        unsealed = session.exec(
            select(func.count()).select_from(AuditEvent).where(col(AuditEvent.seq).is_(None))
        ).one()
    if head is None or head.seq is None or head.hash is None:
        return ChainHead(0, GENESIS, int(unsealed))
    return ChainHead(head.seq, head.hash, int(unsealed))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rows: int  # sealed rows checked
    head: str
    problem: str | None = None  # altered | inserted | deleted
    seq: int | None = None  # where the chain first breaks
    row_id: int | None = None
    message: str = ""


def _sealed(engine: Engine) -> Iterator[AuditEvent]:
    last = 0
    with Session(engine) as session:
        while True:
            rows = session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.seq) > last)
                .order_by(col(AuditEvent.seq))
                .limit(_PAGE)
            ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq or last


def verify_chain(engine: Engine, *, expect_head: str | None = None) -> Verdict:
    """The first break in the chain, or ok; `expect_head` is a head recorded earlier (an
    evidence pack's): it must still be in the chain, else rows after it were deleted."""
    expected_seq, prev, before_prev = 1, GENESIS, GENESIS
    seen_head = expect_head is None or expect_head == GENESIS
    count, prev_id = 0, None
    for row in _sealed(engine):
        broken = _check(row, expected_seq, prev, before_prev)
        if broken is not None:
            problem, message = broken
            at_seq, at_id = (row.seq, row.id) if problem != "inserted" else (count, prev_id)
            return Verdict(False, count, prev, problem, at_seq, at_id, message)
        before_prev, prev, prev_id = prev, row.hash or "", row.id
        expected_seq += 1
        count += 1
        seen_head = seen_head or prev == expect_head
    if not seen_head:
        message = f"head {expect_head} is not in the chain: rows after it were deleted"
        return Verdict(False, count, prev, "deleted", expected_seq, None, message)
    return Verdict(True, count, prev, message=f"{count} rows, head {prev}")


def _check(row: AuditEvent, seq: int, prev: str, before_prev: str) -> tuple[str, str] | None:
    where = f"row seq {row.seq} (id {row.id}, {row.kind})"
    if row.seq != seq and row.prev_hash != prev:
        return "deleted", f"seq {seq} missing before {where}: row deleted"
    if row.prev_hash != prev:
        if row.prev_hash == before_prev:
            return "inserted", f"the row before {where} was inserted: {where} links past it"
        return "deleted", f"{where} does not link to the row before it: rows deleted"
    if row.seq != seq:
        return "altered", f"{where}: seq renumbered (expected {seq})"
    if row_hash(row) != row.hash:
        return "altered", f"{where} was altered: its hash does not match its content"
    return None
