"""structlog setup, called once by the entrypoint: JSON in production, console on a terminal.

Logs must never carry contact details or notice text: `redact_pii` removes PII-named fields and
scrubs anything that looks like an email address or phone number from every other string. The
libraries that see whole messages (the SMTP server and client, Twilio's and the HTTP clients'
wire logs, SQLAlchemy's parameters) stay at WARNING whatever `log_library_level` says: a name or
a notice's text has no pattern to scrub.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PII_KEYS = frozenset(
    {
        "email",
        "phone",
        "address",
        "postal_address",
        "recipient",
        "to",
        "name",
        "body",
        "body_text",
        "body_html",
        "text",
        "html",
        "subject",
        "message",
        "contact",
        "rcpt",
    }
)
REDACTED = "[redacted]"
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: 9+ characters of digits and separators, at a word boundary; not the start of an
# IPv4 address (192.168.100.200, 10.0.0.1:5432), and it may end a sentence ("… +31 20 555 0100.").
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)"
_PHONE = re.compile(rf"(?<![\w:.-])(?!{_IPV4})\+?\d[\d ().-]{{7,}}\d(?![\w:]|[.-]\d)")
# Loggers that log message bodies or their parameters line by line at DEBUG/INFO.
BODY_LOGGERS = (
    "aiosmtpd",
    "mail.log",  # aiosmtpd's logger: every line of every message at DEBUG
    "aiosmtplib",
    "twilio.http_client",
    "urllib3",
    "httpx",
    "httpcore",
    "sqlalchemy.engine",  # INSERT parameters: contact values and names
)


def _scrub(text: str) -> str:
    return _PHONE.sub(REDACTED, _EMAIL.sub(REDACTED, text))


def redact_pii(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key in PII_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = _scrub(value)
        elif isinstance(value, (list, tuple, dict)):
            event_dict[key] = _scrub(repr(value))
    return event_dict


class _CurrentStderr:
    """Whatever sys.stderr is at the time of writing, not at configuration: a test runner or a
    CLI harness that swaps and closes stderr must not leave the loggers with a dead stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(
    *, fmt: str = "auto", level: str = "info", stream: Any = None, libraries: str = "warning"
) -> None:
    """`fmt`: auto (console on a tty, JSON otherwise), json or console. Standard-library logs
    (kafka-python, aiosmtplib, SQLAlchemy) at `libraries` level and above go through the same
    redaction and renderer."""
    stream = stream or _CurrentStderr()
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    _route_stdlib_logging(stream, shared, renderer, libraries)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redact_pii,  # last before rendering: sees every field, including tracebacks
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def _route_stdlib_logging(stream: Any, shared: list[Any], renderer: Any, level: str) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_pii,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    number = logging.getLevelNamesMapping()[level.upper()]
    root.setLevel(number)
    for name in BODY_LOGGERS:  # whatever the level asked for: they log bodies
        logging.getLogger(name).setLevel(max(number, logging.WARNING))
