"""The rules file (`config/obligations.toml`) as frozen, validated models.

Shape, per `[[rule]]`: id, regime, recipient, applies_when (a `Condition`), stages (each a
deadline), content_items, forbidden_items, substitute_notice, law_enforcement_delay, citation.
Loading and the cross-checks that name file, entry and field live in `rules_loader.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident.obligations.conditions import Condition

# Every US state, the District of Columbia, Puerto Rico, Guam and the US Virgin Islands: each has
# a breach-notice law of its own, and each its regime `us-<code>` (`us-dc`, `us-pr`, ...).
US_JURISDICTIONS = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC", "PR", "GU", "VI",
)  # fmt: skip
REGIMES = (
    "gdpr", "uk-gdpr", "nis2", "pipl", "cac", "appi", "lgpd", "sg-pdpa", "au-privacy",
    "kr-pipa", "ca-pipeda", "hipaa", *(f"us-{c.lower()}" for c in US_JURISDICTIONS), "sec-8k",
    "policy",
)  # fmt: skip
RECIPIENTS = (
    "authority", "individuals", "media", "public", "register", "credit_bureaus", "controller",
)  # fmt: skip
# What starts a clock: an instant of the incident, or another deadline (`stage:` / `rule:`).
CLOCK_STARTS = (
    "awareness", "discovery", "determination", "materiality", "assessment", "handling_end",
    "year_end_of_discovery", "question_received", "extortion_payment",
)  # fmt: skip

Scope = Literal["each", "each_country", "all"]
Role = Literal["controller", "processor"]
LawEnforcement = Literal["allowed", "not_allowed", "national_security_only"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(_Frozen):
    article: str = Field(min_length=3)
    url: str = Field(pattern=r"^https?://\S+$")


class Variant(_Frozen):
    """A flag that changes a stage's deadline: a factor (LGPD small agents x2) or a new amount."""

    flag: str
    factor: int | None = None
    hours: int | None = None
    calendar_days: int | None = None
    business_days: int | None = None


class Stage(_Frozen):
    stage: str = Field(min_length=1)
    clock_start: str
    clock_fallback: str | None = None  # used when `clock_start` is not recorded
    hours: int | None = Field(default=None, ge=0)
    calendar_days: int | None = Field(default=None, ge=0)
    business_days: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=1)
    target: str | None = None  # a `[targets]` key: the law names no fixed time
    target_hours: int | None = Field(default=None, ge=0)  # overrides the `[targets]` value
    words: str = Field(min_length=3)  # the deadline as the law words it
    # "Whichever is sooner": the stage is also due when that notice is actually sent
    # (`sent:<rule id>/<stage>`, e.g. the residents' notice), if that comes first.
    or_when_sent: str | None = Field(default=None, pattern=r"^sent:[a-z0-9][a-z0-9-]*/[a-z0-9_]+$")
    # business_days: the time of day the last business day ends at ("17:30" for EDGAR,
    # 17 CFR 232.13(a)(2)); default the end of the day (23:59:59).
    ends_at: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # A deadline falling on a weekend, public holiday or closure day of the authority moves to
    # its next business day (Japan: Act on Holidays of Administrative Organs, Art. 2).
    rolls_to_business_day: bool = False
    # calendar_days: the deadline is the end (23:59:59) of the last day counted, not the same
    # wall-clock time ("no later than 3 calendar days after the day", Singapore PDPA s. 26D(1)).
    end_of_day: bool = False
    variants: tuple[Variant, ...] = ()

    @model_validator(mode="after")
    def _exactly_one_amount(self) -> Stage:
        given = [n for n in ("hours", "calendar_days", "business_days", "months", "target")
                 if getattr(self, n) is not None]  # fmt: skip
        if len(given) != 1:
            raise ValueError(
                "give exactly one of hours, calendar_days, business_days, months, target "
                f"(found {given or 'none'})"
            )
        if self.ends_at is not None and self.business_days is None:
            raise ValueError("ends_at applies to business_days deadlines only")
        if self.end_of_day and self.calendar_days is None:
            raise ValueError("end_of_day applies to calendar_days deadlines only")
        return self

    @property
    def unit(self) -> str:
        for name in ("hours", "calendar_days", "business_days", "months"):
            if getattr(self, name) is not None:
                return name
        return "target"


class SubstituteCase(_Frozen):
    when: Condition
    decision: Literal["replace", "complement", "not_required"]
    means: tuple[str, ...] = ()
    reason: str = Field(min_length=3)


class ExtraContent(_Frozen):
    when: Condition
    items: tuple[str, ...]


class Rule(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    regime: str
    recipient: str
    recipient_name: str = Field(min_length=3)
    why: str = Field(min_length=3)  # the legal trigger in words
    scope: Scope = "all"
    authority: str = ""  # scope "all": whose time zone and calendar; "establishment" = facts
    one_stop_shop: bool = False  # GDPR Art. 56: one lead authority where there is an establishment
    applies_when: Condition
    stages: tuple[Stage, ...] = Field(min_length=1)
    content_items: tuple[str, ...] = ()
    extra_content: tuple[ExtraContent, ...] = ()
    forbidden_items: tuple[str, ...] = ()
    substitute_notice: tuple[SubstituteCase, ...] = ()
    law_enforcement_delay: LawEnforcement
    citation: Citation
    # What a lawyer should check against the official text; "" = checked (REGULATIONS.md).
    verify: str = ""
    # The roles the rule binds: a controller's duties (authority, data subjects) are not a
    # processor's, whose duty is to tell its controller (GDPR Art. 33(2)). Default: both.
    roles: tuple[Role, ...] = Field(default=("controller", "processor"), min_length=1)


class Rules(_Frozen):
    """The whole file: rules plus the organisation's targets, groups, zones and known flags."""

    file: str
    fingerprint: str  # sha256 of the file: a stored obligation set knows which rules made it
    targets: dict[str, int]  # hours the organisation allows itself where the law names none
    groups: dict[str, tuple[str, ...]]  # "EU" -> member states
    zones: dict[str, str]  # jurisdiction -> IANA time zone of its authority
    calendars: dict[str, str]  # jurisdiction -> holiday calendar, where not the default
    closures: dict[str, tuple[str, ...]] = {}  # jurisdiction -> "MM-DD" yearly closure days
    flags: dict[str, str]  # flag -> what it means
    rules: tuple[Rule, ...]

    def by_id(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)
