"""What a security engineer submits when raising an incident, validated with precise messages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from incident.domain.jurisdiction import is_valid_jurisdiction
from incident.domain.model import DataCategory, Severity
from incident.errors import InvalidInput, InvalidInputs, clipped

MAX_PROBLEMS = 50  # reported at once; a file with more is cut short with a count
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
INSTANT_RULE = "must be an ISO 8601 time with offset, e.g. 2026-03-06T16:00:00+01:00"
LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
KNOWN_FLAGS = frozenset(
    {
        "encrypted",
        "critical_infrastructure",
        "public_company",
        "hipaa_covered",
        "nis2_entity",
        "state_organ",
        "trust_service_provider",
    }
)


def _localised(value: Any) -> dict[str, str]:
    """A plain string is English; a mapping gives one text per locale and must include `en`."""
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict):
        raise ValueError("must be a text or a mapping of locale to text")
    if not str(value.get("en", "")).strip():
        raise ValueError("needs an English (`en`) text: every locale falls back to it")
    for locale, text in value.items():
        if not isinstance(locale, str) or not LOCALE.match(locale):
            raise ValueError(f"locale {locale!r} is not like `nl` or `pt_BR`")
        if not isinstance(text, str):
            raise ValueError(f"text for {locale!r} must be a string")
    return {k: v.strip() for k, v in value.items()}


RECORDS_HEADER = ("key_type", "key", "categories")
RECORD_KEY_TYPES = ("id", "email", "phone")
MAX_SCOPE_DEPTH = 8
_FILTER_FIELDS = ("countries", "regions", "created_between", "active_between")


def _readable_file(value: str, what: str) -> str:
    """An absolute path to a readable file: the enricher reads it later, maybe elsewhere."""
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"{what} {value!r} is not a readable file (path as the enricher sees it)")
    return str(path)


class Scope(BaseModel):
    """Who is affected. Exactly one of:

    - `people`: person ids; `people_file`: a text file with one person id per line;
    - `records_file`: the forensic records, CSV `key_type,key,categories` (key_type id, email or
      phone; categories `;`-separated data categories exposed in that record), optionally only
      records with one of `has_categories`;
    - a directory filter: `countries`/`regions` (anyone in one of them) and/or
      `created_between`/`active_between` ([from, to] dates, both included);
    - `any_of` (union) or `all_of` (intersection) of scopes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    people: list[str] | None = None
    people_file: str | None = None
    records_file: str | None = None
    has_categories: list[DataCategory] | None = None
    countries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    # ISO dates kept as text: the scope is stored as JSON with the incident.
    created_between: tuple[str, str] | None = None
    active_between: tuple[str, str] | None = None
    any_of: list[Scope] | None = None
    all_of: list[Scope] | None = None

    @field_validator("countries", "regions")
    @classmethod
    def _iso_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not is_valid_jurisdiction(code):
                raise ValueError(f"{code!r} is not an ISO 3166 code (e.g. NL, US-CA)")
        return codes

    @field_validator("people_file")
    @classmethod
    def _people_file(cls, value: str | None) -> str | None:
        return None if value is None else _readable_file(value, "people_file")

    @field_validator("records_file")
    @classmethod
    def _records_file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = _readable_file(value, "records_file")
        with open(path, encoding="utf-8-sig") as handle:
            header = tuple(c.strip() for c in handle.readline().strip().split(","))
        if header != RECORDS_HEADER:
            raise ValueError(
                f"records_file header is {header!r}; must be {','.join(RECORDS_HEADER)}"
            )
        return path

    @field_validator("created_between", "active_between")
    @classmethod
    def _ordered(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is None:
            return None
        try:
            first, last = (date.fromisoformat(v) for v in value)
        except ValueError as exc:
            raise ValueError(f"must be [from, to] as YYYY-MM-DD dates: {exc}") from exc
        if first > last:
            raise ValueError("must be [from, to] with from on or before to")
        return (first.isoformat(), last.isoformat())

    @field_validator("any_of", "all_of")
    @classmethod
    def _two_or_more(cls, value: list[Scope] | None) -> list[Scope] | None:
        if value is not None and len(value) < 2:
            raise ValueError("needs at least two scopes to combine")
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Scope:
        kinds = [k for k in self.kinds() if k != "filter"]
        if self.is_filter():
            kinds.append("filter")
        if not kinds:
            raise ValueError(
                "needs `people` (person ids), `people_file`, `records_file`, a directory filter "
                "(`countries`/`regions`/`created_between`/`active_between`), `any_of` or `all_of`"
            )
        if len(kinds) != 1:
            named = " and ".join(kinds)
            raise ValueError(
                "give exactly one of `people`, `people_file`, `records_file`, "
                f"`countries`/`regions`/`created_between`/`active_between`, `any_of`, `all_of` "
                f"(got {named})"
            )
        if self.people is not None and not self.people:
            raise ValueError("`people` is empty: an incident affects at least one person")
        if self.has_categories is not None and self.records_file is None:
            raise ValueError("`has_categories` selects records of a `records_file`: give one")
        if self.depth() > MAX_SCOPE_DEPTH:
            raise ValueError(f"scopes nest at most {MAX_SCOPE_DEPTH} deep")
        return self

    def kinds(self) -> list[str]:
        named = ("people", "people_file", "records_file", "any_of", "all_of")
        return [k for k in named if getattr(self, k) is not None]

    def is_filter(self) -> bool:
        return any(getattr(self, k) for k in _FILTER_FIELDS)

    def depth(self) -> int:
        children = (self.any_of or []) + (self.all_of or [])
        return 1 + max((c.depth() for c in children), default=0)


class Contact(BaseModel):
    """Where people ask questions: every notice lists these, with the response commitment."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    email: str | None = None
    phone: str | None = None
    url: str | None = None
    # The data-protection officer (name and how to reach them), where the law asks for one.
    dpo: str | None = Field(default=None, min_length=3, max_length=300)
    # The privacy policy promises an answer within 7 working days; an incident may promise less.
    response_days: int = Field(default=7, ge=1, le=7)


class ControllerContact(BaseModel):
    """The controller a processor works for: the addressee of its notice (GDPR Art. 33(2))."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=2, max_length=200)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, min_length=5, max_length=40)
    postal_address: str | None = Field(default=None, min_length=5, max_length=500)
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    contact_person: str | None = Field(default=None, min_length=2, max_length=200)

    @model_validator(mode="after")
    def _reachable(self) -> ControllerContact:
        if not (self.email or self.phone or self.postal_address or self.url):
            raise ValueError("needs at least one of email, phone, postal_address, url")
        return self


class IncidentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3, max_length=200)
    severity: Severity
    categories: list[DataCategory] = Field(min_length=1)
    aware_at: datetime
    discovered_at: datetime | None = None
    occurred_at: datetime | None = None
    description: dict[str, str]
    impact: dict[str, str]
    measures_taken: dict[str, str]
    measures_planned: dict[str, str]
    advice: dict[str, str] = Field(default_factory=lambda: {"en": ""})
    remedies: dict[str, str]
    contact: Contact = Field(default_factory=Contact)
    scope: Scope
    flags: dict[str, StrictBool] = Field(default_factory=dict)
    # Controller (default): we decide why and how the data are processed and owe the notices.
    # Processor: we process them for `controller`, which we tell (GDPR Art. 33(2) and the
    # LGPD / PIPL contract equivalents) instead of the authority and the data subjects.
    role: Literal["controller", "processor"] = "controller"
    controller: ControllerContact | None = None

    _texts = field_validator(
        "description",
        "impact",
        "measures_taken",
        "measures_planned",
        "remedies",
        mode="before",
    )(_localised)

    @field_validator("advice", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> dict[str, str]:
        return {"en": ""} if value in (None, "") else _localised(value)

    @field_validator("aware_at", "discovered_at", "occurred_at", mode="before")
    @classmethod
    def _instant_text(cls, value: Any) -> Any:
        """Text or an instant: not a number (pydantic would read it as seconds since 1970)."""
        if value is None or isinstance(value, str | datetime):
            return value
        raise ValueError(INSTANT_RULE)

    @field_validator("aware_at", "discovered_at", "occurred_at")
    @classmethod
    def _instant(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2026-03-06T16:00:00+01:00")
        if value.year < EARLIEST.year or value < EARLIEST:
            raise ValueError(f"is before {EARLIEST.year}")
        if value > datetime.now(UTC) + timedelta(minutes=5):
            raise ValueError("is in the future")
        return value

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, flags: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(flags) - KNOWN_FLAGS)
        if unknown:
            raise ValueError(f"unknown flag(s) {unknown}; known: {sorted(KNOWN_FLAGS)}")
        return flags

    @model_validator(mode="after")
    def _controller_for_processor(self) -> IncidentSpec:
        if self.role == "processor" and self.controller is None:
            raise ValueError("a processor names its controller: give `controller` (name, contact)")
        if self.role == "controller" and self.controller is not None:
            raise ValueError("`controller` is for role: processor (the controller it works for)")
        return self

    @field_validator("categories")
    @classmethod
    def _unique(cls, categories: list[DataCategory]) -> list[DataCategory]:
        return list(dict.fromkeys(categories))


def parse_incident_spec(data: Any) -> IncidentSpec:
    """Validate raw YAML/JSON data; every problem is reported at once as field, value, rule."""
    if not isinstance(data, dict):
        raise InvalidInputs([InvalidInput("(file)", type(data).__name__, "must be a mapping")])
    try:
        return IncidentSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_as_invalid_input(err) for err in exc.errors()[:MAX_PROBLEMS]]
        if exc.error_count() > MAX_PROBLEMS:
            more = exc.error_count() - MAX_PROBLEMS
            problems.append(InvalidInput("(file)", more, "more problems not shown"))
        raise InvalidInputs(problems) from exc


def _as_invalid_input(err: Any) -> InvalidInput:
    field = ""
    for part in err["loc"]:
        part = str(clipped(part)) if isinstance(part, str) else part
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    rule = str(err["msg"]).removeprefix("Value error, ")
    value = clipped(err.get("input"))
    if err["type"] == "missing":
        value, rule = None, "is required"
    return InvalidInput(field or "(file)", value, rule)
