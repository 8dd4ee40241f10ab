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


LOCALES = ("en", "nl", "de", "fr", "es", "pt", "zh", "ja")
HEADINGS = {loc: _headings(loc) for loc in LOCALES}
assert len({h[0] for h in HEADINGS.values()}) == len(HEADINGS), "headings must be translated"

# California's prescribed title and headings (Civ. Code 1798.82(d)(1)), per locale: the
# English words themselves, and in every other locale a translation that keeps them in brackets
# (full-width ones in Chinese and Japanese).
CA_KEYS = ("ca_title", "ca_h_happened", "ca_h_information", "ca_h_doing", "ca_h_you", "ca_h_more")
CA_ENGLISH = ("Notice of Data Breach", "What Happened", "What Information Was Involved",
              "What We Are Doing", "What You Can Do", "For More Information")  # fmt: skip


def _ca_headings(locale: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for path in sorted((templates_dir() / "strings" / locale).glob("*.toml")):
        strings = tomllib.loads(path.read_text(encoding="utf-8"))
        found.update({k: strings[k] for k in CA_KEYS if k in strings})
    headings = tuple(found[k] for k in CA_KEYS)
    for heading, english in zip(headings, CA_ENGLISH, strict=True):
        assert heading == english if locale == "en" else english in heading, heading
    return headings


CA_HEADINGS = {loc: _ca_headings(loc) for loc in LOCALES}
