"""One directory row, validated: a CSV row (all text), a JSON Lines object or a live-source row.

Fields (CSV columns; JSON Lines keys are the same, lists where a CSV cell is `;`-separated):

    id, name                   required
    country                    ISO 3166-1 alpha-2 (NL, US)
    region                     ISO 3166-2, with or without the country: US-CA or CA
    locale                     nl, pt_BR (pt-BR is read as pt_BR); empty: en
    birth_date                 YYYY-MM-DD, a real date, not in the future
    is_minor                   true/false/1/0 (optional; the birth date decides too)
    guardian_id                another person's id
    channel_preferences        channel names of the registry, `email;sms`
    created_at, last_active_at ISO 8601 with offset, or a date (midnight UTC)
    email / emails             mailbox(es), `a@x.org;b@y.org`; RFC 5321 syntax, stored in
                               normal form (`normalise_email`)
    phone / phones             E.164 number(s), `+31612345678;+31201234567`
    postal_street, postal_city, postal_postal_code, postal_region, postal_country
                               (JSON Lines: `postal_address` {street, city, postal_code, ...})
    push_subscriptions         JSON list of Web Push subscriptions {endpoint, keys{p256dh, auth}}

`parse_row` returns a `PersonRecord` or raises `RowRejected` with every problem of the row as
`RowProblem(line, field, value, rule)`. `lenient=True` (the live source) keeps what is valid,
drops what is not and lists why in `PersonRecord.problems`; only a row without an id fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from email_validator import EmailNotValidError, validate_email

from channels.mime import address_problem  # the syntax check the email channel uses
from channels.safe_files import id_problem
from incident.domain.incident_spec import LOCALE
from incident.domain.jurisdiction import is_valid_jurisdiction, region_code
from incident.errors import clipped

PERSON_FIELDS = ("id", "name", "locale", "country", "region", "birth_date", "is_minor",
                 "guardian_id", "channel_preferences", "created_at", "last_active_at")  # fmt: skip
POSTAL_COLUMNS = ("postal_street", "postal_city", "postal_postal_code", "postal_region",
                  "postal_country")  # fmt: skip
CONTACT_FIELDS = ("email", "emails", "phone", "phones", "postal_address",
                  "push_subscriptions", *POSTAL_COLUMNS)  # fmt: skip
KNOWN_FIELDS = frozenset(PERSON_FIELDS + CONTACT_FIELDS)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_PUNCTUATION = str.maketrans("", "", " -().")
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    field: str
    value: Any
    rule: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.value!r} is invalid: {self.rule}"


class RowRejected(ValueError):
    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A valid directory row. Contact fields that are None were not given: what is on file
    stays. `given` names the person fields the row carried (the others keep their value)."""

    id: str
    name: str
    country: str
    locale: str = "en"
    region: str | None = None
    birth_date: str | None = None
    is_minor: bool = False
    guardian_id: str | None = None
    channel_preferences: tuple[str, ...] = ()
    created_at: datetime | None = None
    last_active_at: datetime | None = None
    emails: tuple[str, ...] | None = None
    phones: tuple[str, ...] | None = None
    postal_address: dict[str, str] | None = None
    push_subscriptions: tuple[dict[str, Any], ...] = ()
    given: frozenset[str] = field(default_factory=frozenset)
    problems: tuple[str, ...] = ()
    line: int = 0
    # Enrichment only: the data categories exposed for this person in the scope being read.
    categories: frozenset[str] | None = None

    def person_values(self) -> dict[str, Any]:
        """The `person` columns this row sets."""
        values = {name: getattr(self, name) for name in PERSON_FIELDS if name in self.given}
        if "channel_preferences" in values:
            values["channel_preferences"] = list(self.channel_preferences)
        return values


class _Row:
    """Collects the problems of one row while its fields are read."""

    def __init__(self, raw: Mapping[str, Any], line: int) -> None:
        self.raw, self.line = raw, line
        self.problems: list[RowProblem] = []

    def bad(self, name: str, value: Any, rule: str) -> None:
        self.problems.append(RowProblem(self.line, name, clipped(value), rule))

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.bad(name, value, "must be text")
            return None
        return str(value).strip() or None

    def items(self, *names: str) -> list[Any] | None:
        """A `;`-separated cell or a JSON list, over all of `names` (email + emails)."""
        out: list[Any] = []
        given = False
        for name in names:
            value = self.raw.get(name)
            if value is None or value == "" or value == []:
                continue
            given = True
            if isinstance(value, str):
                out += [v.strip() for v in value.split(";") if v.strip()]
            elif isinstance(value, list | tuple):
                out += list(value)
            else:
                self.bad(name, value, "must be text (`;`-separated) or a list")
        return out if given else None


def parse_row(
    raw: Mapping[str, Any],
    *,
    line: int,
    channels: Collection[str],
    today: date | None = None,
    lenient: bool = False,
) -> PersonRecord:
    """The row as a `PersonRecord`, or `RowRejected` with all its problems."""
    row = _Row(raw, line)
    for name in raw:
        if name not in KNOWN_FIELDS:
            row.bad(str(name), raw[name], f"unknown field; use {', '.join(PERSON_FIELDS)}, ...")
    person_id = _person_id(row)
    country = _country(row)
    values: dict[str, Any] = {
        "name": _name(row),
        "locale": _locale(row),
        "region": _region(row, country),
        "birth_date": _birth_date(row, today or date.today()),
        "is_minor": _flag(row, "is_minor"),
        "guardian_id": _guardian(row, person_id),
        "channel_preferences": _channels(row, channels),
        "created_at": _instant(row, "created_at"),
        "last_active_at": _instant(row, "last_active_at"),
        "emails": _emails(row),
        "phones": _phones(row),
        "postal_address": _postal(row),
        "push_subscriptions": _push(row),
    }
    if person_id is None or (row.problems and not lenient):
        raise RowRejected(row.problems)
    given = frozenset(n for n in PERSON_FIELDS if n in raw) | {"id", "name", "country"}
    return PersonRecord(
        id=person_id,
        country=country or "",
        given=given,
        problems=tuple(f"{p.field}: {p.value!r} is invalid: {p.rule}" for p in row.problems),
        line=line,
        **values,
    )


def _person_id(row: _Row) -> str | None:
    value = row.text("id")
    if value is None:
        row.bad("id", row.raw.get("id"), "is required")
    elif rule := id_problem(value):
        row.bad("id", value, rule)
        return None
    return value


def _name(row: _Row) -> str:
    value = row.text("name")
    if value is None:
        row.bad("name", row.raw.get("name"), "is required")
    return value or ""


def _country(row: _Row) -> str | None:
    value = row.text("country")
    if value is None:
        row.bad("country", row.raw.get("country"), "is required: an ISO 3166-1 code such as NL")
    elif "-" in value or not is_valid_jurisdiction(value):
        row.bad("country", value, "must be an ISO 3166-1 alpha-2 code such as NL, upper case")
        return None
    return value


def _region(row: _Row, country: str | None) -> str | None:
    value = row.text("region")
    if value is None or country is None:
        return None
    full = region_code(country, value)
    if full is None or not is_valid_jurisdiction(full):
        row.bad("region", value, f"must be an ISO 3166-2 code of {country}, e.g. US-CA or CA")
        return None
    return full


def _locale(row: _Row) -> str:
    value = row.text("locale")
    if value is None:
        return "en"
    locale = value.replace("-", "_")
    if not LOCALE.match(locale):
        row.bad("locale", value, "must be a language code like nl or pt_BR")
        return "en"
    return locale


def _birth_date(row: _Row, today: date) -> str | None:
    value = row.raw.get("birth_date")
    if value is None or value == "":
        return None
    born: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        born = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            born = date.fromisoformat(value.strip())
        except ValueError:
            born = None
    if born is None:
        row.bad("birth_date", value, "must be a real date, YYYY-MM-DD")
        return None
    if not date(1880, 1, 1) <= born <= today:
        row.bad("birth_date", value, "must be between 1880-01-01 and today")
        return None
    return born.isoformat()


def _flag(row: _Row, name: str) -> bool:
    value = row.raw.get(name)
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    row.bad(name, value, "must be true or false")
    return False


def _guardian(row: _Row, person_id: str | None) -> str | None:
    value = row.text("guardian_id")
    if value is not None and (rule := id_problem(value)):
        row.bad("guardian_id", value, rule)
        return None
    if value is not None and value == person_id:
        row.bad("guardian_id", value, "a person cannot be their own guardian")
        return None
    return value


def _channels(row: _Row, channels: Collection[str]) -> tuple[str, ...]:
    good = []
    for name in row.items("channel_preferences") or []:
        if isinstance(name, str) and name in channels:
            good.append(name)
        else:
            row.bad("channel_preferences", name, f"unknown channel; use {sorted(channels)}")
    return tuple(dict.fromkeys(good))


def _instant(row: _Row, name: str) -> datetime | None:
    value = row.raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # from a database: a naive value is taken as UTC
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        parsed = None
    if parsed is not None and len(str(value).strip()) == 10:
        return parsed.replace(tzinfo=UTC)
    if parsed is None or parsed.utcoffset() is None:
        row.bad(name, value, "must be an ISO 8601 time with offset or a date (YYYY-MM-DD)")
        return None
    return parsed


def _emails(row: _Row) -> tuple[str, ...] | None:
    values = row.items("email", "emails")
    if values is None:
        return None
    good = []
    for value in values:
        normal, problem = normalise_email(value) if isinstance(value, str) else (None, "text")
        if normal is None:
            row.bad("email", value, f"not a usable email address: {problem}")
        else:
            good.append(normal)
    return tuple(dict.fromkeys(good)) or None


def normalise_email(value: str) -> tuple[str | None, str | None]:
    """(the address as stored, None) or (None, why it is refused). Offline: syntax only.

    `email-validator` (no DNS: `check_deliverability=False`) refuses what no mail system
    delivers (special-use domains such as .test or .localhost, a domain without a dot, quoted
    local parts) and gives the normal form: domain lowercased and IDNA-normalised (UTS 46;
    `xn--strae-oqa.de` and `Straße.DE` are both stored `straße.de`), local part NFC. The
    local part's case is kept (RFC 5321: it is the mailbox's own). The normal form then passes
    the SMTP-level check the email channel applies (`channels.mime.address_problem`)."""
    problem = address_problem(value)
    if problem is None:
        try:
            found = validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            return None, str(exc)
        problem = address_problem(found.normalized)
        if problem is None:
            return found.normalized, None
    return None, problem


def _phones(row: _Row) -> tuple[str, ...] | None:
    values = row.items("phone", "phones")
    if values is None:
        return None
    good = []
    for value in values:
        number = str(value).translate(_PHONE_PUNCTUATION) if isinstance(value, str) else ""
        if E164.match(number):
            good.append(number)
        else:
            row.bad("phone", value, "must be an E.164 number: + country code and digits")
    return tuple(dict.fromkeys(good)) or None


def _postal(row: _Row) -> dict[str, str] | None:
    nested = row.raw.get("postal_address")
    if nested not in (None, "", {}) and not isinstance(nested, Mapping):
        row.bad("postal_address", nested, "must be an object {street, city, country, ...}")
        return None
    source = dict(nested or {}) | {
        c.removeprefix("postal_"): row.raw[c] for c in POSTAL_COLUMNS if row.raw.get(c)
    }
    fields = {k: str(v).strip() for k, v in source.items() if v not in (None, "")}
    if not fields:
        return None
    label = "postal_address" if nested else "postal_"
    unknown = set(fields) - {c.removeprefix("postal_") for c in POSTAL_COLUMNS}
    missing = [k for k in ("street", "city", "country") if not fields.get(k)]
    if unknown or missing:
        rule = f"needs street, city and country; unknown: {sorted(unknown)}; missing: {missing}"
        row.bad(label, fields, rule)
        return None
    if not is_valid_jurisdiction(fields["country"]) or "-" in fields["country"]:
        row.bad("postal_country", fields["country"], "must be an ISO 3166-1 code such as NL")
        return None
    order = ("street", "postal_code", "city", "region", "country")
    return {k: fields[k] for k in order if k in fields}


def _push(row: _Row) -> tuple[dict[str, Any], ...]:
    value = row.raw.get("push_subscriptions")
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            row.bad("push_subscriptions", value, f"not JSON: {exc.msg}")
            return ()
    if not isinstance(value, list):
        row.bad("push_subscriptions", value, "must be a JSON list of subscriptions")
        return ()
    good = []
    for sub in value:
        keys = sub.get("keys") if isinstance(sub, dict) else None
        endpoint = sub.get("endpoint") if isinstance(sub, dict) else None
        if (
            isinstance(endpoint, str)
            and endpoint.startswith("https://")
            and isinstance(keys, dict)
            and all(isinstance(keys.get(k), str) and keys[k] for k in ("p256dh", "auth"))
        ):
            good.append(sub)
        else:
            rule = "must be {endpoint: https URL, keys: {p256dh, auth}}"
            row.bad("push_subscriptions", sub, rule)
    return tuple(good)
