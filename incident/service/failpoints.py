"""Crash points for the crash tests: BREACHNOTICE_FAILPOINT=name[@n] kills the process the n-th
time (default: first) execution passes `failpoint(name)`, exactly like a `kill -9` there."""

from __future__ import annotations

import os
from collections import Counter

EXIT_CODE = 86
_hits: Counter[str] = Counter()


def failpoint(name: str) -> None:
    spec = os.environ.get("BREACHNOTICE_FAILPOINT")
    if not spec:
        return
    target, _, nth = spec.partition("@")
    if target != name:
        return
    _hits[name] += 1
    if _hits[name] >= int(nth or 1):
        os._exit(EXIT_CODE)  # no cleanup, no flush: a real crash
