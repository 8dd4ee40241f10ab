"""Content checks of what an incident says about itself, beside the rules' items: its dates
in the order events happen, and sections that are placeholders (too short to inform, or the
sample incident's text left in). Pure but for reading `[quality]` of the formats file once; the
problems are warnings (`content.BLOCKING` has neither kind): the people who wrote the incident
fix it, nothing is held."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from incident.errors import ConfigError

# The order in which an incident's instants must come: it happens, someone discovers it, the
# organisation becomes aware of it, then it is raised here.
ORDER = ("occurred_at", "discovered_at", "aware_at", "raised")
_WIDE = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def instants(incident: Any, raised: datetime | None) -> list[tuple[str, datetime]]:
    """The incident's known instants in `ORDER` (a stored incident was raised at creation)."""
    raised = raised or getattr(incident, "created_at", None)
    found = [(name, getattr(incident, name, None)) for name in ORDER[:-1]]
    return [(n, v) for n, v in [*found, ("raised", raised)] if v is not None]


def dates_out_of_order(incident: Any, raised: datetime | None = None) -> list[str]:
    """Each pair of the incident's instants that comes in the wrong order, said plainly."""
    known = instants(incident, raised)
    said = []
    for i, (earlier, first) in enumerate(known):
        for later, second in known[i + 1 :]:
            if _utc(first) > _utc(second):
                said.append(
                    f"{earlier} {first.isoformat()} is after {later} {second.isoformat()}: "
                    f"the order is {' <= '.join(n for n, _ in known)}"
                )
    return said


def _utc(value: datetime) -> datetime:
    """Naive instants (SQLite hands them back so) are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Quality:
    """`[quality]` of the formats file: a minimum length per section, and the sample's texts
    (every locale) that a real incident must not still carry."""

    min_chars: Mapping[str, int] = field(default_factory=dict)
    examples: Mapping[str, frozenset[str]] = field(default_factory=dict)


def informative_length(text: str) -> int:
    """Characters, a Han, kana or Hangul character counting three (it carries about a word)."""
    return sum(3 if _WIDE.match(c) else 1 for c in " ".join(text.split()))


def _squeezed(text: str) -> str:
    return " ".join(text.split()).casefold()


def placeholder(section: str, text: str, quality: Quality) -> str | None:
    """Why `text` cannot be a real `section` of a notice (too short, the sample's), or None.
    An empty section is the `empty` check's (it is required) or allowed (it is not)."""
    if not text.strip():
        return None
    if _squeezed(text) in quality.examples.get(section, frozenset()):
        return "still the sample incident's text (config/examples/incident.yaml)"
    least = quality.min_chars.get(section, 0)
    if informative_length(text) < least:
        return f"{text.strip()[:20]!r} is too short to inform (at least {least} characters)"
    return None


@lru_cache(maxsize=8)
def load_quality(path: Path | None = None) -> Quality:
    """`[quality]` of the formats file (cached per path); ConfigError names the field."""
    from incident.settings import config_dir

    path = path or config_dir() / "notice_formats.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("quality", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "quality", "-", f"cannot be read as TOML: {exc}") from exc
    minimum = table.get("min_chars", {})
    if not isinstance(minimum, dict) or not all(
        isinstance(v, int) and v >= 0 for v in minimum.values()
    ):
        raise ConfigError(str(path), "quality", "min_chars", "a table of whole numbers >= 0")
    example = table.get("example")
    return Quality(dict(minimum), _examples(config_dir() / example) if example else {})


def _examples(path: Path) -> dict[str, frozenset[str]]:
    import yaml

    from incident.domain.content import SECTIONS

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), "quality", "example", f"cannot be read: {exc}") from exc
    found = {}
    for section in SECTIONS:
        texts = data.get(section) or {}
        texts = {"en": texts} if isinstance(texts, str) else texts
        found[section] = frozenset(_squeezed(str(t)) for t in texts.values() if str(t).strip())
    return found
