"""What a notice says: the incident's sections, the reader's notice format, and content checks.

An incident carries its notice content as sections written by the security and legal team, each
a text per locale with English as the base (`SECTIONS`). The service fills in the per-person
facts (data categories, accounts, dates in the reader's zone). How the notice is laid out for a
reader depends on their jurisdiction: `config/notice_formats.toml` names, per jurisdiction, the
title, the headed sections and the blocks each one holds, the intro, and the sections that must
not be empty; a jurisdiction without an entry gets `STANDARD_FORMAT` (the privacy policy's).

`check_notice_content` compares an incident with the rules file: every `content_items` entry of
the individual-notice rules that may apply in the jurisdiction must be given by a section, a
fact, a block of the format or the service itself (`[items]` of the formats file says which),
and every `forbidden_items` entry must be left out (`[forbidden]`). Pure: no I/O beyond reading
the two data files once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

from incident.domain.content_quality import Quality, dates_out_of_order, load_quality, placeholder
from incident.errors import BreachNoticeError, ConfigError
from incident.obligations.conditions import Condition
from incident.obligations.engine import matches
from incident.obligations.rules import Rule, Rules

# The incident's own texts, in the order a notice tells them.
SECTIONS = ("description", "impact", "measures_taken", "measures_planned", "advice", "remedies")
# What a format's section may hold: an incident section, a fact the service fills in, the
# contact block, or `say:<strings key>` (a paragraph of fixed wording, e.g. a statutory right).
BLOCKS = frozenset(
    {"description", "dates", "categories", "accounts", "impact", "measures", "advice", "remedies",
     "contact"}
)  # fmt: skip
BLOCK_SECTIONS = {"measures": ("measures_taken", "measures_planned")}
FORMATS_FILE = "notice_formats.toml"
_COUNT = re.compile(
    r"\b\d[\d.,\s]*\s*(?:residents|customers|people|persons|individuals|users|accounts|clients)\b",
    re.IGNORECASE,
)
# A link as mail clients and readers recognise one: a scheme, `www.`, or a bare host name
# (`bit.ly/x`, `evil.example.net`; not the domain of an email address).
_LINK = re.compile(
    r"\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"'）」]+"
    r"|(?<![@\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,24}\b(?:/[^\s<>\"'）」]*)?",
    re.IGNORECASE,
)
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//(?:[^@/?#\s]*@)?\[?([^/?#:\s\]]+)", re.IGNORECASE)
Kind = Literal[
    "empty", "missing", "forbidden", "fallback", "manual", "unmapped", "dates", "placeholder"
]  # fmt: skip
# Problems that stop a notice: it is not sent (an empty section raises MissingSection when
# rendered; a missing or forbidden item, ContentCheckFailed at dispatch). The other kinds
# (fallback, manual, unmapped, dates, placeholder) are warnings: the notice can go.
BLOCKING: frozenset[str] = frozenset({"empty", "missing", "forbidden"})


class MissingSection(BreachNoticeError, ValueError):
    """A section the reader's notice format requires is empty in their locale and in English."""

    def __init__(self, section: str, locale: str, jurisdiction: str | None = None) -> None:
        self.section, self.locale, self.jurisdiction = section, locale, jurisdiction
        where = f" (notice format for {jurisdiction})" if jurisdiction else ""
        super().__init__(
            f"section {section!r} is empty for locale {locale!r} and in English{where}: "
            "a notice cannot be sent without it"
        )


class ContentCheckFailed(BreachNoticeError, ValueError):
    """A rendered notice would lack what the law requires of it, or say what it forbids: it is
    not sent. The message names each item, the rules asking for it and their citations."""

    def __init__(self, problems: Sequence[ContentProblem], citations: Mapping[str, str]) -> None:
        self.problems = tuple(problems)
        said = "; ".join(
            f"{p} ({', '.join(citations.get(r, r) for r in p.rules)})" if p.rules else str(p)
            for p in self.problems
        )
        super().__init__(f"notice fails the content check: {said}")


@dataclass(frozen=True, slots=True)
class ContentProblem:
    kind: Kind
    item: str  # a content item id, a forbidden item id, or a section name
    jurisdiction: str | None
    locale: str
    detail: str
    rules: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.jurisdiction or 'any jurisdiction'}/{self.locale}"
        by = f" [{', '.join(self.rules)}]" if self.rules else ""
        return f"{where}: {self.kind} {self.item}: {self.detail}{by}"


@dataclass(frozen=True, slots=True)
class FormatSection:
    heading: str  # a strings key
    blocks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NoticeFormat:
    """How a notice is laid out for readers of one jurisdiction; templates read it as data."""

    id: str
    sections: tuple[FormatSection, ...]
    title: str = "notice_title"  # a strings key
    intro: str = "intro"  # a strings key
    numbered: bool = True  # "1. What happened" (the last, contact section is never numbered)
    required: tuple[str, ...] = ("description", "impact", "measures_taken", "remedies")
    citation: str = ""
    waived: tuple[str, ...] = ()  # content items this jurisdiction's law overrides (see citation)
    blocks: frozenset[str] = field(default=frozenset(), compare=False)  # every block it renders

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", frozenset(b for s in self.sections for b in s.blocks))

    def renders(self, section: str) -> bool:
        """Whether the incident's `section` appears in notices of this format."""
        return any(section == s or section in BLOCK_SECTIONS.get(s, ()) for s in self.blocks)

    def wording_keys(self) -> set[str]:
        says = {b.removeprefix("say:") for b in self.blocks if b.startswith("say:")}
        return {self.title, self.intro, *(s.heading for s in self.sections), *says}


STANDARD_FORMAT = NoticeFormat(
    id="standard",
    citation="Privacy policy: (a) facts and impact, (b) measures, (c) advice, (d) remedies",
    sections=(
        FormatSection("h_happened", ("description", "dates", "categories", "accounts", "impact")),
        FormatSection("h_done", ("measures",)),
        FormatSection("h_you", ("advice",)),
        FormatSection("h_offer", ("remedies",)),
        FormatSection("h_contact", ("contact",)),
    ),
)


@dataclass(frozen=True, slots=True)
class NoticeFormats:
    """`config/notice_formats.toml`: formats by jurisdiction, and how items are satisfied."""

    formats: Mapping[str, NoticeFormat]
    items: Mapping[str, tuple[str, ...]]  # content item -> any of these satisfies it
    forbidden: Mapping[str, tuple[str, ...]]  # forbidden item -> what must hold to leave it out

    def for_jurisdiction(self, jurisdiction: str | None) -> NoticeFormat:
        """`US-CA` -> its own entry, else its country's (`US`), else the standard format."""
        if not jurisdiction:
            return STANDARD_FORMAT
        found = self.formats.get(jurisdiction) or self.formats.get(jurisdiction.split("-")[0])
        return found or STANDARD_FORMAT

    def check_wording(self, keys: set[str] | Mapping[str, Any], file: str = FORMATS_FILE) -> None:
        """Every strings key a format names exists (called with the default locale's keys)."""
        for fmt in (STANDARD_FORMAT, *self.formats.values()):
            for key in sorted(fmt.wording_keys()):
                if key not in keys:
                    raise ConfigError(file, fmt.id, key, "no such string in templates/strings/en")


def _fail(file: str, entry: str, key: str, problem: str) -> ConfigError:
    return ConfigError(file, entry, key, problem)


def _format(file: str, code: str, raw: Any) -> NoticeFormat:
    if not isinstance(raw, dict):
        raise _fail(file, code, "-", "must be a table")
    known = {"title", "intro", "numbered", "required", "citation", "sections", "waived"}
    if unknown := set(raw) - known:
        raise _fail(file, code, min(unknown), f"unknown key; use {sorted(known)}")
    sections = []
    for i, sec in enumerate(raw.get("sections", [])):
        if not isinstance(sec, dict) or set(sec) != {"heading", "blocks"}:
            raise _fail(file, code, f"sections[{i}]", "needs exactly `heading` and `blocks`")
        for block in sec["blocks"]:
            if block not in BLOCKS and not str(block).startswith("say:"):
                raise _fail(file, code, f"sections[{i}]", f"unknown block {block!r}")
        sections.append(FormatSection(str(sec["heading"]), tuple(sec["blocks"])))
    if not sections:
        raise _fail(file, code, "sections", "a format needs at least one section")
    required = tuple(raw.get("required", STANDARD_FORMAT.required))
    if bad := [s for s in required if s not in SECTIONS]:
        raise _fail(file, code, "required", f"{bad[0]!r} is not a section of {SECTIONS}")
    options = {k: raw[k] for k in ("title", "intro", "numbered", "citation") if k in raw}
    waived = tuple(raw.get("waived", ()))
    return NoticeFormat(
        id=code, sections=tuple(sections), required=required, waived=waived, **options
    )


@lru_cache(maxsize=8)
def load_formats(path: Path | None = None) -> NoticeFormats:
    """The validated formats file (cached per path); ConfigError names entry and field."""
    if path is None:
        from incident.settings import config_dir

        path = config_dir() / FORMATS_FILE
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(name, "-", "-", f"cannot be read as TOML: {exc}") from exc
    formats = {code: _format(name, code, raw) for code, raw in data.get("format", {}).items()}
    lists = {}
    for table in ("items", "forbidden"):
        entries = data.get(table, {})
        for item, ways in entries.items():
            if not isinstance(ways, list) or not all(isinstance(w, str) for w in ways):
                raise _fail(name, table, item, "must be a list of texts")
        lists[table] = {k: tuple(v) for k, v in entries.items()}
    return NoticeFormats(formats, lists["items"], lists["forbidden"])


class IncidentContent(Protocol):
    """What the checks read: an `IncidentSpec` or a stored `Incident` row both qualify."""

    @property
    def description(self) -> dict[str, str]: ...
    @property
    def impact(self) -> dict[str, str]: ...
    @property
    def measures_taken(self) -> dict[str, str]: ...
    @property
    def measures_planned(self) -> dict[str, str]: ...
    @property
    def advice(self) -> dict[str, str]: ...
    @property
    def remedies(self) -> dict[str, str]: ...
    @property
    def categories(self) -> Any: ...
    @property
    def flags(self) -> dict[str, bool]: ...
    @property
    def contact(self) -> Any: ...
    @property
    def occurred_at(self) -> Any: ...
    @property
    def discovered_at(self) -> Any: ...


def pick(texts: Mapping[str, str], locale: str) -> tuple[str, bool]:
    """The text in `locale`, its language, else English; True when it fell back to English."""
    lang = locale.split("_")[0]
    own = (texts.get(locale) or texts.get(lang) or "").strip()
    if own or lang == "en":
        return own or (texts.get("en") or "").strip(), False
    english = (texts.get("en") or "").strip()
    return english, bool(english)


def organisation_host(incident: IncidentContent) -> str | None:
    """The host of the incident's own notice page (its contact url): the only site a notice
    may link to."""
    url = str(contact_of(incident).get("url") or "")
    host = _HOST.match(url)
    return host.group(1).lower() if host else None


def defang(text: str, host: str | None) -> str:
    """Links in incident text to any site but `host` (or its subdomains) made inert: scheme
    dropped and dots bracketed (`evil[.]example[.]net/login`), as security notices quote
    them, so no mail client or reader turns them into a link."""

    def inert(match: re.Match[str]) -> str:
        url = match.group(0).rstrip(".,;:!?")  # the sentence's punctuation is not the link's
        end = match.group(0)[len(url) :]
        found = _HOST.match(url if "://" in url else "//" + url)
        name = found.group(1).lower() if found else ""
        if host and (name == host or name.endswith("." + host)):
            return url + end
        return url.split("://", 1)[-1].replace(".", "[.]") + end

    return _LINK.sub(inert, text)


def localise(incident: IncidentContent, locale: str) -> tuple[dict[str, str], frozenset[str]]:
    """Each section in the reader's locale (links to other sites than the organisation's made
    inert), and the sections shown in English instead."""
    texts, fallbacks = {}, set()
    host = organisation_host(incident)
    for name in SECTIONS:
        text, fell_back = pick(getattr(incident, name) or {}, locale)
        texts[name] = defang(text, host)
        if fell_back:
            fallbacks.add(name)
    return texts, frozenset(fallbacks)


def require_sections(
    fmt: NoticeFormat, texts: Mapping[str, str], locale: str, jurisdiction: str | None
) -> None:
    for name in fmt.required:
        if fmt.renders(name) and not texts.get(name):
            raise MissingSection(name, locale, jurisdiction)


def contact_of(incident: IncidentContent) -> dict[str, Any]:
    contact = incident.contact
    if hasattr(contact, "model_dump"):
        return dict(contact.model_dump(exclude_none=True))
    return dict(contact or {})


def _values(items: Any) -> set[str]:
    return {getattr(c, "value", c) for c in items or ()}


def _may_apply(cond: Condition, categories: set[str], flags: Mapping[str, bool]) -> bool:
    """Counts and severity are unknown before enrichment: only categories and flags decide."""
    if cond.categories_any and not categories & _values(cond.categories_any):
        return False
    if any(bool(flags.get(k, False)) != v for k, v in cond.flags.items()):
        return False
    if cond.any_of and not any(_may_apply(alt, categories, flags) for alt in cond.any_of):
        return False
    unless = cond.unless
    decisive = unless is not None and (unless.flags or unless.categories_any) and not (
        unless.persons or unless.all_persons or unless.unreachable or unless.notice_cost_usd
        or unless.severity_at_least or unless.severity_at_most or unless.any_of
    )  # fmt: skip
    return not (decisive and unless is not None and _may_apply(unless, categories, flags))


def notice_rules(
    rules: Rules, jurisdiction: str | None, categories: set[str], flags: Mapping[str, bool]
) -> list[Rule]:
    """Individual-notice rules that may apply to a reader in `jurisdiction`."""
    found = []
    for rule in rules.rules:
        cond = rule.applies_when
        if rule.recipient != "individuals" or rule.stages[0].clock_start == "question_received":
            continue  # answers to questions are replies, not the notice
        if cond.jurisdictions and not (
            jurisdiction and matches(jurisdiction, cond.jurisdictions, rules)
        ):
            continue
        if jurisdiction and matches(jurisdiction, cond.not_jurisdictions, rules):
            continue
        if _may_apply(cond, categories, flags):
            found.append(rule)
    return found


def _fact(name: str, incident: IncidentContent, contact: Mapping[str, Any]) -> bool:
    if name in ("occurred_at", "discovered_at"):
        return getattr(incident, name) is not None
    if name == "categories":
        return bool(incident.categories)
    if name == "contact":
        return any(contact.get(k) for k in ("email", "phone", "url"))
    return bool(contact.get(name))  # phone, email, url, dpo, response_days


def _holds(way: str, fmt: NoticeFormat, texts: Mapping[str, str], incident: IncidentContent,
           contact: Mapping[str, Any]) -> bool:  # fmt: skip
    """One way of giving an item; `a+b` needs both."""
    if "+" in way:
        return all(_holds(w, fmt, texts, incident, contact) for w in way.split("+"))
    kind, _, name = way.partition(":")
    if kind == "section":
        return bool(texts.get(name)) and fmt.renders(name)
    if kind == "fact":
        return _fact(name, incident, contact)
    if kind == "block":
        return name in fmt.blocks
    if kind == "heading":
        return any(s.heading == name for s in fmt.sections)
    if kind == "title":
        return fmt.title == name
    return kind == "service"


def _forbidden(way: str, fmt: NoticeFormat, texts: Mapping[str, str]) -> str | None:
    """Why the notice would state a forbidden item this way, or None."""
    kind, _, name = way.partition(":")
    if kind == "omit" and (name in fmt.blocks or fmt.renders(name)):
        return f"the notice format {fmt.id!r} renders {name!r}"
    if kind == "no_counts":
        for section, text in texts.items():
            if fmt.renders(section) and (hit := _COUNT.search(text)):
                return f"section {section!r} states a number: {hit.group(0).strip()!r}"
    return None


def check_notice_content(
    incident: IncidentContent,
    jurisdiction: str | None,
    locale: str,
    *,
    rules: Rules | None = None,
    formats: NoticeFormats | None = None,
    raised: datetime | None = None,
    quality: Quality | None = None,
) -> list[ContentProblem]:
    """What a notice for a reader in `jurisdiction` reading `locale` lacks or must not say.

    `empty` problems stop the notice (the Composer raises MissingSection); the other kinds are
    warnings for the people who wrote the incident: `missing` (a required item is not given),
    `forbidden` (the notice would state what the jurisdiction forbids), `fallback` (a section
    is shown in English), `manual` (only a person can check it), `unmapped` (the formats file
    does not say how the item is given), `dates` (the incident's instants out of order: it
    occurs <= is discovered <= the organisation is aware <= it is raised, at `raised` or the
    stored incident's creation), `placeholder` (a section shown that is too short to inform or
    still the sample's text: `[quality]` of the formats file, or `quality`)."""
    if rules is None:
        from incident.obligations.rules_loader import load_rules

        rules = load_rules()
    formats = formats or load_formats()
    fmt = formats.for_jurisdiction(jurisdiction)
    texts, fallbacks = localise(incident, locale)
    contact = contact_of(incident)
    found: list[ContentProblem] = []

    def add(kind: Kind, item: str, detail: str, by: tuple[str, ...] = ()) -> None:
        found.append(ContentProblem(kind, item, jurisdiction, locale, detail, by))

    for name in fmt.required:
        if fmt.renders(name) and not texts.get(name):
            add("empty", name, "required section is empty in this locale and in English")
    for said in dates_out_of_order(incident, raised):
        add("dates", "dates", said)
    quality = quality or load_quality()
    for name in SECTIONS:
        if fmt.renders(name) and (why := placeholder(name, texts.get(name, ""), quality)):
            add("placeholder", name, why)
    for name in sorted(fallbacks):
        if fmt.renders(name):
            add("fallback", name, "not written in this locale: shown in English with a note")
    wanted: dict[str, list[str]] = {}
    banned: dict[str, list[str]] = {}
    categories, flags = _values(incident.categories), incident.flags or {}
    for rule in notice_rules(rules, jurisdiction, categories, flags):
        extra = [i for x in rule.extra_content if _may_apply(x.when, categories, flags)
                 for i in x.items]  # fmt: skip
        for item in (*rule.content_items, *extra):
            wanted.setdefault(item, []).append(rule.id)
        for item in rule.forbidden_items:
            banned.setdefault(item, []).append(rule.id)
    for item, by in wanted.items():
        if item in fmt.waived:
            continue
        ways = formats.items.get(item)
        if ways is None:
            add("unmapped", item, f"not in [items] of {FORMATS_FILE}", tuple(by))
        elif any(_holds(w, fmt, texts, incident, contact) for w in ways if w != "manual"):
            continue
        elif "manual" in ways:
            add("manual", item, "cannot be checked automatically: make sure a section says it",
                tuple(by))  # fmt: skip
        else:
            add("missing", item, f"give it by one of: {', '.join(ways)}", tuple(by))
    for item, by in banned.items():
        for way in formats.forbidden.get(item, ("unmapped",)):
            if way == "manual":
                add("manual", item, "make sure no section this notice shows states it", tuple(by))
            elif way == "unmapped":
                add("unmapped", item, f"not in [forbidden] of {FORMATS_FILE}", tuple(by))
            elif why := _forbidden(way, fmt, texts):
                add("forbidden", item, why, tuple(by))
    return found
