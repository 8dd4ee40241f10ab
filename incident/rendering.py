"""Notice rendering: sandboxed Jinja2 layouts by channel, wording by locale, with fallback.

Wording lives in one place per locale, shared by every channel: `templates/strings/<locale>/
*.toml`. All TOML files of a locale merge into one namespace (a channel may add its own file,
e.g. `strings/en/sms.toml`); the default locale (`en`) is the base, and a key a locale lacks
falls back to its language (`pt_BR` -> `pt`), then to the default. Templates see it as `s`.

Layouts: `templates/<channel>/_base/<name>.<part>.<ext>` serve every locale; a file in
`templates/<channel>/<locale>/` overrides the layout for that locale. Locale fallback: `pt_BR`
-> `pt` -> default; a locale is used when it has strings and every part of the notice resolves,
so one notice never mixes languages.

This is on the hot path (one render per incident x locale x categories): templates are compiled
once, wording is merged once per locale, and (channel, name, locale) resolution is cached.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from incident.domain.content import STANDARD_FORMAT, NoticeFormat
from incident.errors import ConfigError, TemplateNotFound

# Part name -> file suffix after "<name>". Only "text" is required of every channel.
PARTS: dict[str, str] = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}
# Overridable per Renderer (a channel registry entry passes its `template_parts`).
REQUIRED_PARTS: dict[str, tuple[str, ...]] = {"email": ("subject", "text", "html")}
STRINGS = "strings"  # templates/strings/<locale>/*.toml: the wording of every channel
BASE = "_base"  # templates/<channel>/_base/: the layout every locale shares
_BLANK_LINES = re.compile(r"\n\s*\n")
_P_OPEN = '<p style="margin:0 0 12px 0;">'
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_MAX_CACHED_LOCALES = 512  # locales come from people data: bound what an odd value can cost


@dataclass(frozen=True, slots=True)
class NoticeContext:
    """Everything a notice template may use; built by the dispatcher per person."""

    recipient_name: str
    subject_name: str | None  # the minor's name when the recipient is their guardian
    locale: str
    incident_ref: str
    title: str
    description: str  # what happened, already localised
    impact: str  # possible impact
    measures_taken: str
    measures_planned: str
    advice: str  # incident-specific advice, may be empty
    remedies: str
    categories: tuple[str, ...]  # data category ids exposed for this person
    aware_at: datetime
    occurred_at: datetime | None
    contact_email: str | None
    contact_phone: str | None
    contact_url: str | None
    time_zone: str | None = None  # the reader's IANA zone; None: the instant's own offset
    # The reader's notice format (config/notice_formats.toml, by jurisdiction): title, headed
    # sections and the blocks each holds. Every channel's layout may follow it.
    notice_format: NoticeFormat = STANDARD_FORMAT
    discovered_at: datetime | None = None  # when the breach was discovered, if recorded
    jurisdiction: str | None = None
    fallbacks: frozenset[str] = frozenset()  # incident sections shown in English, with a note
    contact_dpo: str | None = None  # the data-protection officer, where the incident names one
    response_days: int | None = 7  # questions are answered within this many working days
    accounts: tuple[str, ...] = ()  # the reader's affected accounts (filled per person)
    confirm_url: str | None = None  # the reader's personal confirmation link (filled per person)

    def as_dict(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies, which costs on the hot path.
        return {name: getattr(self, name) for name in _CONTEXT_FIELDS}


_CONTEXT_FIELDS = tuple(f.name for f in fields(NoticeContext))


@dataclass(frozen=True, slots=True)
class RenderedParts:
    subject: str | None
    text: str
    html: str | None
    locale: str  # the locale actually used, after fallback


class Wording:
    """One locale's merged strings as attributes (`s.greeting`); read-only for templates."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)

    def __getitem__(self, key: str) -> Any:
        """`s[key]`: a key named by data (a notice format's headings); strings keys only."""
        return self.__dict__[key]


@dataclass(frozen=True, slots=True)
class _Resolved:
    locale: str
    templates: dict[str, jinja2.Template]
    wording: Wording


def normalize_locale(locale: str) -> str:
    """`pt-br`, `pt_BR` and `PT_br` all become `pt_BR`."""
    lang, _, region = locale.strip().replace("-", "_").partition("_")
    return f"{lang.lower()}_{region.upper()}" if region else lang.lower()


def _paragraphs(text: str) -> Markup:
    """Plain text as escaped HTML paragraphs: blank lines split paragraphs, newlines break."""
    html = []
    for chunk in _BLANK_LINES.split(text.replace("\r\n", "\n")):
        if chunk := chunk.strip():
            # One C-level escape per paragraph: this filter runs ~6 times per notice.
            html.append(_P_OPEN + str(escape(chunk)).replace("\n", "<br>\n") + "</p>\n")
    return Markup("".join(html))


def _fill(template: str, **values: object) -> str:
    """`"Dear {name},"|fill(name=...)`: placeholders in translated strings.

    Strings carry placeholders instead of being Jinja macros because a macro imported from a
    non-HTML file would bypass autoescaping; a filter's plain-str result is escaped in HTML.
    """
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


@lru_cache(maxsize=256)
def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None  # unknown: the instant keeps its own offset


def _zone_label(value: datetime) -> str:
    """`CET`, `PST`, `UTC`; zones without a lettered abbreviation read `UTC-03:00`."""
    name = value.tzname() or ""
    if name[:1].isalpha():
        return name
    minutes = int((value.utcoffset() or timedelta(0)).total_seconds()) // 60
    return f"UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@jinja2.pass_context
def _local_date(ctx: Context, value: datetime, pattern: str | None = None) -> str:
    """`aware_at|local_date`: the date in the reader's zone, written the locale's way
    (`s.date_pattern`, e.g. "{day} {month} {year}"; placeholders also {time} and {zone})."""
    s = ctx["s"]
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    zone = _zone(ctx.get("time_zone"))
    if zone is not None:
        value = value.astimezone(zone)
    return _fill(
        s.date_pattern if pattern is None else pattern,
        day=value.day,
        month=s.months[value.month - 1],
        year=value.year,
        time=f"{value.hour:02d}:{value.minute:02d}",
        zone=_zone_label(value),
    )


@jinja2.pass_context
def _local_datetime(ctx: Context, value: datetime) -> str:
    """`aware_at|local_datetime`: date, time and zone name (`s.datetime_pattern`)."""
    return _local_date(ctx, value, ctx["s"].datetime_pattern)


class _NoticeEnvironment(SandboxedEnvironment):
    """The sandbox, with a fast path for `s.<name>` on the locale's `Wording`.

    The sandbox vets every attribute access (~1 µs each); a notice reads ~70 strings. A
    Wording's attributes are only the keys of the strings files, so skipping the check for them
    opens nothing (tables are read-only mappings, lists are tuples).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is Wording and not attribute.startswith("_"):
            try:
                return obj.__dict__[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _read_strings(folder: Path) -> dict[str, tuple[Any, Path]]:
    """Every `*.toml` of one locale folder merged: key -> (value, file it came from)."""
    merged: dict[str, tuple[Any, Path]] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), "-", "-", f"malformed TOML: {exc}") from exc
        for key, value in data.items():
            if key in merged:
                other = merged[key][1]
                raise ConfigError(str(path), key, "-", f"duplicate key, also in {other}")
            if not key.isidentifier() or key.startswith("_"):
                raise ConfigError(str(path), key, "-", "not a name: letters, digits, _")
            merged[key] = (value, path)
    return merged


def _check_against_base(key: str, value: Any, base: Any, path: Path, sub: str = "-") -> None:
    """A translation has the shape of the default locale's value and no unknown placeholder."""

    def fail(reason: str) -> None:
        raise ConfigError(str(path), key, sub, reason)

    if type(value) is not type(base):
        fail(f"is {type(value).__name__}, the default locale has {type(base).__name__}")
    if isinstance(value, list) and len(value) != len(base):
        fail(f"has {len(value)} items, the default locale has {len(base)}")
    if isinstance(value, str):
        unknown = set(_PLACEHOLDER.findall(value)) - set(_PLACEHOLDER.findall(base))
        if unknown:
            fail(f"placeholder {{{sorted(unknown)[0]}}} is not in the default locale's text")
    if isinstance(value, dict) and sub == "-":
        for name, item in value.items():
            if name not in base:
                fail(f"{name!r} is not in the default locale's table")
            _check_against_base(key, item, base[name], path, name)


class Renderer:
    def __init__(
        self,
        templates_dir: Path,
        *,
        default_locale: str = "en",
        required_parts: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.templates_dir = Path(templates_dir)
        self.default_locale = normalize_locale(default_locale)
        self.required_parts = dict(REQUIRED_PARTS if required_parts is None else required_parts)
        for channel, parts in self.required_parts.items():
            if unknown := set(parts) - set(PARTS):
                raise ConfigError("required_parts", channel, min(unknown), f"not in {set(PARTS)}")
        self._env = _NoticeEnvironment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # templates are data shipped with a release, not edited live
            cache_size=-1,  # never evict a compiled template
        )
        self._env.filters.update(
            paragraphs=_paragraphs,
            fill=_fill,
            local_date=_local_date,
            local_datetime=_local_datetime,
        )
        self._wording = self._load_wording()
        self._resolved: dict[tuple[str, str, str], _Resolved] = {}
        self._names_checked: set[str] = set()

    def render(
        self,
        channel: str,
        name: str,
        locale: str,
        context: NoticeContext | Mapping[str, Any],
    ) -> RenderedParts:
        resolved = self._resolve(channel, name, locale)
        values = context.as_dict() if isinstance(context, NoticeContext) else dict(context)
        values["s"] = resolved.wording
        out = {part: t.render(values) for part, t in resolved.templates.items()}
        subject = out.get("subject")
        return RenderedParts(
            # A subject is one line: template line breaks must not become header folding.
            subject=" ".join(subject.split()) if subject is not None else None,
            text=out["text"],
            html=out.get("html"),
            locale=resolved.locale,
        )

    def wording(self, locale: str) -> Wording:
        """The merged strings of `locale` (after fallback), as templates see them in `s`."""
        return next(self._wording[c] for c in self._candidates(locale) if c in self._wording)

    def check(self, channels: Iterable[str]) -> None:
        """Fail at startup, not at the millionth notice: compile every channel x locale set."""
        for channel in channels:
            names = self._names(channel)
            if not names:
                raise TemplateNotFound(channel, "*", self.default_locale)
            for name in names:
                parts = self._parts(channel, name)
                for part in self.required_parts.get(channel, ("text",)):
                    if part not in parts:
                        raise TemplateNotFound(channel, name + PARTS[part], self.default_locale)
                for locale in self._override_locales(channel):
                    if locale not in self._wording:
                        folder = self.templates_dir / STRINGS / locale
                        raise ConfigError(str(folder), locale, "-", f"no strings for {channel}")
                    if self._files(channel, name, locale, parts) is None:  # would mix languages
                        missing = [p for p in parts if not self._file(channel, name, locale, p)]
                        raise TemplateNotFound(channel, name + PARTS[missing[0]], locale)
                for locale in self._wording:
                    self._check_names(self._resolve(channel, name, locale).templates.values())

    def _check_names(self, templates: Iterable[jinja2.Template]) -> None:
        """Every `s.<key>` a template reads exists (every locale has the default's keys)."""
        keys = self._wording[self.default_locale].__dict__
        loader = self._env.loader
        assert loader is not None
        for name in {t.name for t in templates} - self._names_checked:
            assert name is not None
            for node in self._env.parse(loader.get_source(self._env, name)[0]).find_all(
                nodes.Getattr
            ):
                target = node.node
                is_s = isinstance(target, nodes.Name) and target.name == "s"
                if is_s and node.attr not in keys:
                    raise ConfigError(name, node.attr, "-", "no such string")
            self._names_checked.add(name)

    def _load_wording(self) -> dict[str, Wording]:
        root = self.templates_dir / STRINGS
        folders = [d for d in sorted(root.glob("*")) if d.is_dir() and any(d.glob("*.toml"))]
        raw = {d.name: _read_strings(d) for d in folders}
        for locale in raw:
            if locale != normalize_locale(locale) or locale not in self._candidates(locale):
                raise ConfigError(str(root / locale), locale, "-", "not a locale name like pt_BR")
        base = raw.get(self.default_locale)
        if not base:
            raise TemplateNotFound(STRINGS, "*.toml", self.default_locale)
        for strings in raw.values():
            for key, (value, path) in strings.items():
                if key not in base:
                    raise ConfigError(str(path), key, "-", "not in the default locale's strings")
                _check_against_base(key, value, base[key][0], path)
        wording = {}
        for locale in raw:
            merged: dict[str, Any] = {}
            for c in reversed(self._candidates(locale)):  # default first, the locale itself last
                for key, (value, _) in raw.get(c, {}).items():
                    old = merged.get(key)
                    merged[key] = {**old, **value} if isinstance(value, dict) and old else value
            wording[locale] = Wording({k: _frozen(v) for k, v in merged.items()})
        return wording

    def _resolve(self, channel: str, name: str, locale: str) -> _Resolved:
        key = (channel, name, locale)
        resolved = self._resolved.get(key)
        if resolved is not None:
            return resolved
        wanted = self._parts(channel, name)
        if "text" not in wanted:
            raise TemplateNotFound(channel, name + PARTS["text"], self.default_locale)
        for candidate in self._candidates(locale):
            if candidate not in self._wording:  # no wording in that locale: never on disk
                continue
            files = self._files(channel, name, candidate, wanted)
            if files is not None:
                templates = {p: self._env.get_template(f) for p, f in files.items()}
                resolved = _Resolved(candidate, templates, self._wording[candidate])
                break
        assert resolved is not None  # the default locale is always the last candidate
        if len(self._resolved) >= _MAX_CACHED_LOCALES:
            self._resolved.clear()
        self._resolved[key] = resolved
        return resolved

    def _candidates(self, locale: str) -> list[str]:
        normal = normalize_locale(locale) if locale else self.default_locale
        chain = [normal, normal.partition("_")[0], self.default_locale]
        # Only names that look like locales reach the file system ("../x" never does).
        plain = [c for c in chain if c.isascii() and c.replace("_", "").isalnum()]
        return list(dict.fromkeys(plain))

    def _file(self, channel: str, name: str, locale: str, part: str) -> str | None:
        """The locale's own layout for a part, else the shared `_base` one."""
        for folder in (locale, BASE):
            path = f"{channel}/{folder}/{name}{PARTS[part]}"
            if (self.templates_dir / path).is_file():
                return path
        return None

    def _files(
        self, channel: str, name: str, locale: str, parts: tuple[str, ...]
    ) -> dict[str, str] | None:
        files = {p: self._file(channel, name, locale, p) for p in parts}
        return {p: f for p, f in files.items() if f} if all(files.values()) else None

    def _parts(self, channel: str, name: str) -> tuple[str, ...]:
        """The parts a notice has: those the default locale finds (own or `_base`)."""
        return tuple(p for p in PARTS if self._file(channel, name, self.default_locale, p))

    def _override_locales(self, channel: str) -> list[str]:
        root = self.templates_dir / channel
        return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("_"))

    def _names(self, channel: str) -> list[str]:
        found: set[str] = set()
        for folder in (self.templates_dir / channel / f for f in (BASE, self.default_locale)):
            if folder.is_dir():
                files = (f.name for f in folder.iterdir() if f.is_file())
                found.update(n.split(".", 1)[0] for n in files if not n.startswith("_"))
        return sorted(found)
