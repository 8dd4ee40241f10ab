"""Errors of the incident package.

BreachNoticeError
├── InvalidInput(field, value, rule)      bad incident / facts / person data: exit code 2
├── ConfigError(file, entry, field)       malformed settings or rules file: fails at start
├── SchemaVersionMismatch                 database made by another version of the schema
├── SchemaRevisionMismatch(found, expected, remedy)  database not at the code's migration head
├── NotFound(kind, key)                   an id that is not in the database
├── TemplateNotFound(channel, template, locale)  notice template missing: fails at start
└── PoisonMessage(topic, reason)          a queue message that can never be processed
"""

from __future__ import annotations

from typing import Any


class BreachNoticeError(Exception):
    """Base of every error the service raises on purpose."""


class InvalidInput(BreachNoticeError, ValueError):
    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field, self.value, self.rule = field, value, rule
        super().__init__(f"{field}: {value!r} is invalid: {rule}")


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
