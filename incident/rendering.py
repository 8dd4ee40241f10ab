"""Notice rendering: sandboxed Jinja2 templates by channel and locale, with locale fallback.

Layout: `templates/<channel>/<locale>/<name>.<part>.<ext>`, e.g. `email/de/notice.subject.txt`,
`email/de/notice.txt`, `email/de/notice.html`. Folders starting with `_` hold shared layouts
and are not locales. `pt_BR` falls back to `pt`, then to the default locale. A locale is used
only when it has every part the default locale has, so one notice never mixes languages.

This is on the hot path (one render per person): templates are compiled once, and the
resolution of (channel, name, locale) to templates is cached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.environment import TemplateModule
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from incident.errors import TemplateNotFound

# Part name -> file suffix after "<name>". Only "text" is required of every channel.
PARTS: dict[str, str] = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}
REQUIRED_PARTS: dict[str, tuple[str, ...]] = {"email": ("subject", "text", "html")}
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


@dataclass(frozen=True, slots=True)
class _Resolved:
    locale: str
    templates: dict[str, jinja2.Template]


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


def _local_date(value: datetime, pattern: str, months: list[str]) -> str:
    """`aware_at|local_date(s.date_pattern, s.months)`, e.g. "{day} {month} {year}"."""
    return _fill(pattern, day=value.day, month=months[value.month - 1], year=value.year)


class _NoticeEnvironment(SandboxedEnvironment):
    """The sandbox, with a fast path for `s.<name>` on an imported strings module.

    The sandbox vets every attribute access (~1 µs each); a notice reads ~70 strings from its
    locale's `_strings.j2`. A template module's public attributes are only what templates
    themselves exported, so skipping the check for them opens nothing.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is TemplateModule and not attribute.startswith("_"):
            try:
                return obj.__dict__[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class Renderer:
    def __init__(self, templates_dir: Path, *, default_locale: str = "en") -> None:
        self.templates_dir = Path(templates_dir)
        self.default_locale = normalize_locale(default_locale)
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
        self._env.filters.update(paragraphs=_paragraphs, fill=_fill, local_date=_local_date)
        self._resolved: dict[tuple[str, str, str], _Resolved] = {}

    def render(
        self,
        channel: str,
        name: str,
        locale: str,
        context: NoticeContext | Mapping[str, Any],
    ) -> RenderedParts:
        resolved = self._resolve(channel, name, locale)
        values = context.as_dict() if isinstance(context, NoticeContext) else dict(context)
        out = {part: t.render(values) for part, t in resolved.templates.items()}
        subject = out.get("subject")
        return RenderedParts(
            # A subject is one line: template line breaks must not become header folding.
            subject=" ".join(subject.split()) if subject is not None else None,
            text=out["text"],
            html=out.get("html"),
            locale=resolved.locale,
        )

    def check(self, channels: Iterable[str]) -> None:
        """Fail at startup, not at the millionth notice: compile every channel x locale set."""
        for channel in channels:
            default_dir = self.templates_dir / channel / self.default_locale
            names = self._names(default_dir)
            if not names:
                raise TemplateNotFound(channel, "*", self.default_locale)
            for name in names:
                for part in REQUIRED_PARTS.get(channel, ("text",)):
                    if not (default_dir / (name + PARTS[part])).is_file():
                        raise TemplateNotFound(channel, name + PARTS[part], self.default_locale)
                expected = self._parts(channel, name, self.default_locale)
                for locale in self._locales(channel):
                    have = self._parts(channel, name, locale)
                    if have and have != expected:  # a partial translation would mix languages
                        missing = sorted(set(expected) - set(have)) or sorted(have)
                        raise TemplateNotFound(channel, name + PARTS[missing[0]], locale)
                    if have:
                        self._resolve(channel, name, locale)  # compiles; syntax errors surface

    def _resolve(self, channel: str, name: str, locale: str) -> _Resolved:
        key = (channel, name, locale)
        resolved = self._resolved.get(key)
        if resolved is not None:
            return resolved
        wanted = self._parts(channel, name, self.default_locale)
        if "text" not in wanted:
            raise TemplateNotFound(channel, name + PARTS["text"], self.default_locale)
        for candidate in self._candidates(locale):
            if self._parts(channel, name, candidate) == wanted:
                resolved = _Resolved(candidate, self._load(channel, name, candidate, wanted))
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

    def _load(
        self, channel: str, name: str, locale: str, parts: tuple[str, ...]
    ) -> dict[str, jinja2.Template]:
        return {p: self._env.get_template(f"{channel}/{locale}/{name}{PARTS[p]}") for p in parts}

    def _parts(self, channel: str, name: str, locale: str) -> tuple[str, ...]:
        folder = self.templates_dir / channel / locale
        return tuple(p for p, suffix in PARTS.items() if (folder / (name + suffix)).is_file())

    def _locales(self, channel: str) -> list[str]:
        root = self.templates_dir / channel
        return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("_"))

    @staticmethod
    def _names(folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        files = (f.name for f in folder.iterdir() if f.is_file())
        return sorted({name.split(".", 1)[0] for name in files if not name.startswith("_")})
