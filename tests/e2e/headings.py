"""The four section headings of the email notice per locale, read from the locale's strings files
(templates/strings/<locale>/*.toml), so a test can check each email carries all four in the
recipient's language."""

from __future__ import annotations

import tomllib

from incident.settings import templates_dir

_KEYS = ("h_happened", "h_done", "h_you", "h_offer")


def _headings(locale: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for path in sorted((templates_dir() / "strings" / locale).glob("*.toml")):
        strings = tomllib.loads(path.read_text(encoding="utf-8"))
        found.update({k: strings[k] for k in _KEYS if k in strings})
    assert len(found) == 4, f"{locale}: expected four headings, found {found}"
    return tuple(found[k] for k in _KEYS)


HEADINGS = {loc: _headings(loc) for loc in ("en", "nl", "de", "fr", "es", "pt", "zh", "ja")}
assert len({h[0] for h in HEADINGS.values()}) == len(HEADINGS), "headings must be translated"
