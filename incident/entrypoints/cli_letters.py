"""`breachnotice letters receipts FILE`: the print house's return file into delivery states.

The file is CSV with a header naming at least `letter_id,status` (optionally `date,reason`):

    letter_id,status,date,reason
    LQ4M5...,mailed,2026-03-09,
    L7XKD...,returned,2026-03-20,addressee unknown

A letter id is accepted only for a letter delivery whose id it is: letter ids derive from the
keyed Message-ID (channels.letter.letter_id_for, keyed_ids), so a row naming another channel's
delivery (an sms's provider id) or a made-up id is refused with its line, and changes nothing.

`mailed` records the letter as delivered (handed to the post); `returned` (or
`returned-undeliverable`) as bounced: the person's notice is pending again and they move on to
their next channel. Each row is its own unit of work, so one bad row affects only itself. Rows
that cannot be used are reported with their line number and the command exits with code 2.

The people who move on are published on the notices topic when `kafka.bootstrap_servers` is set;
otherwise (or if publishing fails) their notices stay pending and the service's periodic sweep
republishes them.
"""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incident.domain.model import AttemptStatus
from incident.errors import BreachNoticeError, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from incident.domain.model import NoticeJob
    from incident.service.receipts import Verify

SOURCE = "print_house"
MAX_BYTES = 64 * 1024 * 1024
STATUSES = {
    "mailed": AttemptStatus.DELIVERED,
    "returned": AttemptStatus.BOUNCED,
    "returned-undeliverable": AttemptStatus.BOUNCED,
}

letters_app = typer.Typer(help="Letters: the print house's return files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `letters` commands to the `breachnotice` CLI."""
    app.add_typer(letters_app, name="letters")


@dataclass(frozen=True, slots=True)
class ReturnRow:
    line: int
    letter_id: str
    status: AttemptStatus
    reported: str  # the print house's date, kept as given (ISO 8601) in the receipt's detail
    reason: str


Problem = tuple[int, str]  # line number, `field: 'value' is invalid: rule`


def parse_return_file(text: str) -> tuple[list[ReturnRow], list[Problem]]:
    """Usable rows, and the line and reason of each unusable one."""
    reader = csv.DictReader(text.splitlines())
    missing = {"letter_id", "status"} - set(reader.fieldnames or ())
    if missing:
        return [], [(1, f"header: needs the columns letter_id,status, missing {sorted(missing)}")]
    rows: list[ReturnRow] = []
    problems: list[Problem] = []
    for record in reader:
        line = reader.line_num
        letter_id = (record.get("letter_id") or "").strip()
        status = (record.get("status") or "").strip().lower()
        reported = (record.get("date") or "").strip()
        if not letter_id:
            problems.append((line, "letter_id: '' is invalid: required"))
        elif status not in STATUSES:
            problems.append((line, f"status: {status!r} is invalid: one of {', '.join(STATUSES)}"))
        elif reported and not _is_date(reported):
            problems.append((line, f"date: {reported!r} is invalid: ISO 8601, e.g. 2026-03-09"))
        else:
            reason = (record.get("reason") or "").strip()[:500]
            rows.append(ReturnRow(line, letter_id, STATUSES[status], reported, reason))
    return rows, problems


def _is_date(value: str) -> bool:
    try:
        (datetime if "T" in value else date).fromisoformat(value)
    except ValueError:
        return False
    return True


def letter_verifier(message_key: bytes, letter_id: str) -> Verify:
    """The check of the delivery a row's letter id names (one HMAC, one SHA-256)."""
    from channels.letter import letter_id_for
    from incident.adapters.tables import DeliveryAttempt
    from incident.errors import Unverified
    from incident.service.keyed_ids import message_id_verifies

    def verify(attempt: DeliveryAttempt) -> Unverified | None:
        if attempt.channel != "letter":
            return Unverified("letter_id", letter_id, "names a delivery that is no letter")
        ours = message_id_verifies(attempt.message_id, attempt.idempotency_key, message_key)
        if not ours or not hmac.compare_digest(letter_id_for(attempt.message_id), letter_id):
            return Unverified("letter_id", letter_id, "is not a letter id we made")
        return None

    return verify


def apply_rows(
    engine: Engine, rows: list[ReturnRow], message_key: bytes
) -> tuple[list[ReturnRow], list[NoticeJob], list[Problem]]:
    """Store each row's receipt in its own transaction: (recorded, to move on, problems)."""
    from incident.service.receipts import apply_receipt

    recorded: list[ReturnRow] = []
    requeue: list[NoticeJob] = []
    problems: list[Problem] = []
    for row in rows:
        detail = {"line": row.line, "date": row.reported, "reason": row.reason}
        try:
            outcome = apply_receipt(
                engine,
                status=row.status,
                source=SOURCE,
                now=datetime.now(UTC),
                provider_id=row.letter_id,
                detail=detail,
                verify=letter_verifier(message_key, row.letter_id),
            )
        except NotFound:
            problems.append((row.line, f"letter_id: {row.letter_id!r} is invalid: no such letter"))
            continue
        except InvalidInput as exc:
            problems.append((row.line, str(exc)))
            continue
        recorded.append(row)
        if outcome.requeue is not None:
            requeue.append(outcome.requeue)
    return recorded, requeue, problems


@letters_app.command("receipts")
def receipts_command(
    file: Annotated[Path, typer.Argument(help="The print house's CSV return file.")],
) -> None:
    """Record which letters were mailed and which came back (those people move on)."""
    from incident.adapters.db import check_schema, make_engine
    from incident.entrypoints.requeued import publish_moved_on
    from incident.log import configure_logging
    from incident.service.confirmation import secret_of
    from incident.service.keyed_ids import message_key_of
    from incident.settings import Settings

    try:
        settings = Settings()
        configure_logging(fmt=settings.log_format, level=settings.log_level, libraries="warning")
        if file.stat().st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
        text = file.read_text(encoding="utf-8-sig")
        message_key = message_key_of(secret_of(settings, create=False))
    except (BreachNoticeError, OSError, ValueError) as exc:
        typer.echo(f"{file}: cannot be read: {exc}", err=True)
        raise typer.Exit(2) from exc
    rows, problems = parse_return_file(text)
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        check_schema(engine, auto_upgrade=settings.database_auto_upgrade)
        recorded, requeue, refused = apply_rows(engine, rows, message_key)
    finally:
        engine.dispose()
    mailed = sum(1 for r in recorded if r.status is AttemptStatus.DELIVERED)
    typer.echo(
        f"{file}: {len(recorded)} of {len(rows) + len(problems)} rows recorded "
        f"({mailed} mailed, {len(recorded) - mailed} returned)"
    )
    if note := publish_moved_on(settings, requeue, "returned"):
        typer.echo(note)
    for line, problem in sorted(problems + refused):
        typer.echo(f"  line {line}: {problem}", err=True)
    if problems or refused:
        raise typer.Exit(2)
