"""`breachnotice email bounces MAILDIR [--delete]`: a bounce mailbox into delivery states.

Reads the Maildir that receives mail to the envelope sender (the embedded default's local SMTP
server keeps null-sender mail under `out/bounces`). Each RFC 3464 delivery status notification
is matched to its delivery by the returned message's Message-ID (incident.service.bounces),
accepted only when that Message-ID verifies (it is keyed with the confirmation secret, so a
forged report is refused, changes nothing, is listed on stderr and the command exits 2):
`failed` is recorded as bounced and the person moves on to their next channel; `delayed` is
kept as an event. Each message is its own unit of work. A message read is marked seen (flag S,
moved to cur/) and skipped on the next run, or removed with `--delete`; messages that are not
delivery reports (out-of-office replies) are counted and left for a person to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import structlog
import typer

from incident.domain.model import DeliverySource
from incident.errors import BreachNoticeError, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from incident.domain.model import NoticeJob
    from incident.service.bounces import BounceReport

log = structlog.get_logger()
SOURCE = DeliverySource.BOUNCE_REPORT.value
MAX_BYTES = 10 * 1024 * 1024  # a DSN returning a whole notice is a few hundred kB at most

email_app = typer.Typer(help="Email: bounce reports.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `email` commands to the `breachnotice` CLI."""
    app.add_typer(email_app, name="email")


@dataclass
class Tally:
    reports: int = 0  # DSNs read
    recorded: dict[str, int] = field(default_factory=dict)  # receipt status -> count
    unmatched: int = 0  # about a message we have no delivery for
    other: int = 0  # not a delivery status notification
    refused: list[str] = field(default_factory=list)  # forged or foreign: why, per report
    requeue: list[NoticeJob] = field(default_factory=list)


def record_reports(
    engine: Engine, reports: list[BounceReport], tally: Tally, message_key: bytes
) -> None:
    """Store each recipient's verdict as a receipt of the delivery its Message-ID names, when
    that Message-ID verifies."""
    from incident.errors import Unverified
    from incident.service.bounces import verifier
    from incident.service.receipts import apply_receipt

    for report in reports:
        status = report.receipt
        if status is None or report.message_id is None:
            tally.unmatched += report.message_id is None
            continue
        detail = {
            "action": report.action,
            "status": report.status,
            "hard": report.hard,
            "reason": f"{report.action} {report.status}".strip(),
            "diagnostic": report.diagnostic,
        }
        try:
            outcome = apply_receipt(
                engine,
                status=status,
                source=SOURCE,
                now=datetime.now(UTC),
                message_id=report.message_id,
                detail=detail,
                verify=verifier(message_key, report.message_id),
            )
        except Unverified as exc:
            tally.refused.append(exc.rule)
            log.warning("bounce_refused", rule=exc.rule)
            continue
        except (NotFound, InvalidInput):
            tally.unmatched += 1
            continue
        tally.recorded[status.value] = tally.recorded.get(status.value, 0) + 1
        if outcome.requeue is not None:
            tally.requeue.append(outcome.requeue)


def ingest_maildir(
    engine: Engine, path: Path, *, message_key: bytes, delete: bool = False
) -> Tally:
    """Read every unseen message of the Maildir; mark it seen (or delete it) once stored."""
    import mailbox

    from incident.service.bounces import parse

    box = mailbox.Maildir(path, create=False)
    tally = Tally()
    for key in list(box.iterkeys()):
        message = box.get_message(key)
        if "S" in message.get_flags():
            continue
        raw = box.get_bytes(key)
        reports = parse(raw[:MAX_BYTES])
        if not reports:
            tally.other += 1
            continue  # left unseen: a person reads it
        tally.reports += 1
        record_reports(engine, reports, tally, message_key)
        if delete:
            box.remove(key)
        else:
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message
    return tally


@email_app.command("bounces")
def bounces_command(
    maildir: Annotated[Path, typer.Argument(help="The bounce mailbox (a Maildir folder).")],
    delete: Annotated[bool, typer.Option(help="Remove each report once recorded.")] = False,
) -> None:
    """Record bounces and delay reports (RFC 3464) of sent notices; bounced people move on."""
    from incident.adapters.db import check_schema, make_engine
    from incident.entrypoints.requeued import publish_moved_on
    from incident.log import configure_logging
    from incident.service.confirmation import secret_of
    from incident.service.keyed_ids import message_key_of
    from incident.settings import Settings

    if not (maildir / "new").is_dir() or not (maildir / "cur").is_dir():
        typer.echo(f"{maildir}: not a Maildir (needs new/ and cur/)", err=True)
        raise typer.Exit(2)
    try:
        settings = Settings()
        configure_logging(fmt=settings.log_format, level=settings.log_level, libraries="warning")
        message_key = message_key_of(secret_of(settings, create=False))
    except BreachNoticeError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        check_schema(engine, auto_upgrade=settings.database_auto_upgrade)
        tally = ingest_maildir(engine, maildir, message_key=message_key, delete=delete)
    finally:
        engine.dispose()
    said = ", ".join(f"{n} {status}" for status, n in sorted(tally.recorded.items())) or "none"
    typer.echo(
        f"{maildir}: {tally.reports} delivery report(s) read; recorded: {said}; "
        f"{tally.unmatched} not matched to a delivery; {tally.other} other message(s) left"
    )
    if note := publish_moved_on(settings, tally.requeue, "bounced"):
        typer.echo(note)
    for rule in tally.refused:
        typer.echo(f"  refused a report: Message-ID {rule}", err=True)
    if tally.refused:
        typer.echo(f"{len(tally.refused)} report(s) refused: forged or not ours", err=True)
        raise typer.Exit(2)
