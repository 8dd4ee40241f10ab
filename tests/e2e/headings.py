"""The four section headings of the email notice per locale, read from the templates' strings,
so a test can check each email carries all four in the recipient's language."""

from __future__ import annotations

import re

from incident.settings import templates_dir

_HEADING = re.compile(r'{%\s*set\s+(h_happened|h_done|h_you|h_offer)\s*=\s*"([^"]+)"\s*%}')


def _headings(locale: str) -> tuple[str, ...]:
    source = (templates_dir() / "email" / locale / "_strings.j2").read_text(encoding="utf-8")
    found = dict(_HEADING.findall(source))
    assert len(found) == 4, f"{locale}: expected four headings, found {found}"
    return tuple(found[k] for k in ("h_happened", "h_done", "h_you", "h_offer"))


HEADINGS = {loc: _headings(loc) for loc in ("en", "nl", "de", "fr", "es", "pt", "zh", "ja")}
assert len({h[0] for h in HEADINGS.values()}) == len(HEADINGS), "headings must be translated"
