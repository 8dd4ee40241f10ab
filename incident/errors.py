"""Errors of the incident package.

BreachNoticeError
├── InvalidInput(field, value, rule)      bad incident / facts / person data: exit code 2
│   └── Unverified(field, value, rule)    a receipt whose keyed id does not verify: refused
├── DocumentError(path, line, column, reason)  a file that is not a readable YAML/JSON document
├── ConfigError(file, entry, field)       malformed settings or rules file: fails at start
├── SchemaVersionMismatch                 database made by another version of the schema
├── SchemaRevisionMismatch(found, expected, remedy)  database not at the code's migration head
├── NotFound(kind, key)                   an id that is not in the database
├── TemplateNotFound(channel, template, locale)  notice template missing: fails at start
├── PoisonMessage(topic, reason)          a queue message that can never be processed
└── MalformedMessage(reason)              a queue message that does not parse: dead-lettered
"""

from __future__ import annotations

import reprlib
from typing import Any


class BreachNoticeError(Exception):
    """Base of every error the service raises on purpose."""


class InvalidInput(BreachNoticeError, ValueError):
    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field, self.value, self.rule = field, value, rule
        super().__init__(f"{field}: {value!r} is invalid: {rule}")


class Unverified(InvalidInput):
    """A receipt (bounce, return file) naming a delivery it cannot prove it is about: a forged
    or foreign id. Refused before anything is stored."""


class InvalidInputs(BreachNoticeError, ValueError):
    """Several InvalidInput at once, so a user fixes a file in one pass."""

    def __init__(self, errors: list[InvalidInput]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class ConfigError(BreachNoticeError):
    def __init__(self, file: str, entry: str, field: str, problem: str) -> None:
        self.file, self.entry, self.field, self.problem = file, entry, field, problem
        super().__init__(f"{file}: entry {entry!r}, field {field!r}: {problem}")


class SchemaVersionMismatch(BreachNoticeError):
    def __init__(self, found: int, expected: int) -> None:
        self.found, self.expected = found, expected
        super().__init__(
            f"database schema version is {found}, this build expects {expected}; "
            "migrate the database or point BREACHNOTICE_DATABASE_URL at a new one"
        )


class SchemaRevisionMismatch(BreachNoticeError):
    """The database is behind the code's migration head (and may not be upgraded here), ahead
    of it (a newer build migrated it), or not recognisable as a breachnotice database."""

    def __init__(self, found: str, expected: str, remedy: str) -> None:
        self.found, self.expected, self.remedy = found, expected, remedy
        super().__init__(f"database at revision {found}, code expects {expected}: {remedy}")


class NotFound(BreachNoticeError, LookupError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind, self.key = kind, key
        super().__init__(f"{kind} {key!r} not found")


class PoisonMessage(BreachNoticeError):
    def __init__(self, topic: str, reason: str) -> None:
        self.topic, self.reason = topic, reason
        super().__init__(f"unprocessable message on {topic!r}: {reason}")


class TemplateNotFound(BreachNoticeError, LookupError):
    def __init__(self, channel: str, template: str, locale: str) -> None:
        self.channel, self.template, self.locale = channel, template, locale
        super().__init__(
            f"template {template!r} of channel {channel!r} missing for locale {locale!r} "
            f"(expected templates/{channel}/{locale}/{template})"
        )


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 2, 60, 60, 40
_SHORT.maxdict = _SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxset = 4


class Clipped:
    """Stands in for a long value in a message: `repr` shows the start of it; `.value` is it."""

    def __init__(self, value: Any, shown: str) -> None:
        self.value, self._shown = value, shown

    def __repr__(self) -> str:
        return self._shown


def clipped(value: Any) -> Any:
    """`value` itself when it is short, else a `Clipped` stand-in. Cheap on any input: reprlib
    looks at a few items of a list or mapping only, and a huge number is not printed at all."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        bits = value.bit_length()
        return value if bits <= 128 else Clipped(value, f"<a number of {bits} bits>")
    if isinstance(value, str) and len(value) <= 80:
        return value
    shown = _SHORT.repr(value)
    small = isinstance(value, list | tuple | dict | set) and len(value) <= 4
    return value if small and "..." not in shown else Clipped(value, shown)


class DocumentError(BreachNoticeError, ValueError):
    """A file that cannot be read as one YAML/JSON document: too big, not UTF-8, a syntax error,
    nested too deeply, an alias, a duplicate or non-text key. `line`/`column` count from 1 and
    are None when the problem has no place (e.g. the file is too big)."""

    def __init__(self, path: str, line: int | None, column: int | None, reason: str) -> None:
        self.path, self.line, self.column, self.reason = path, line, column, reason
        where = (
            path if line is None else f"{path}:{line}" + ("" if column is None else f":{column}")
        )
        super().__init__(f"{where}: {reason}")


class MalformedMessage(BreachNoticeError, ValueError):
    """A queue message that does not parse into what its topic carries; it is dead-lettered."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"malformed message: {reason}")
