"""Pure routing decisions: which channel to try next for a person, and when to retry."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    channel: str | None  # None: no channel left, the person is unreachable
    reason: str  # why this channel, or why none


def next_channel(
    fallback_chain: Sequence[str],
    *,
    available: Collection[str],
    contact_problems: Mapping[str, str],
    contact_kinds: Mapping[str, str],
    exhausted: Collection[str],
) -> Route:
    """First channel of the chain that exists, has a usable contact point and has not failed."""
    skipped: list[str] = []
    for channel in fallback_chain:
        if channel not in available:
            continue
        kind = contact_kinds[channel]
        if kind in contact_problems:
            skipped.append(f"{channel}: {kind} {contact_problems[kind]}")
        elif channel in exhausted:
            skipped.append(f"{channel}: failed")
        else:
            return Route(channel, f"first usable channel of {list(fallback_chain)}")
    return Route(None, "; ".join(skipped) or "no channel configured")


def preferred_order(fallback_chain: Sequence[str], preferences: Sequence[str]) -> list[str]:
    """The person's preferred channels first (only those the chain allows), then the rest."""
    first = [ch for ch in preferences if ch in fallback_chain]
    return list(dict.fromkeys([*first, *fallback_chain]))


def retry_delay(tries: int, *, base_seconds: float, cap_seconds: float = 3600.0) -> float:
    """Exponential backoff: base, 2×base, 4×base, ... capped."""
    return float(min(cap_seconds, base_seconds * 2 ** max(0, tries - 1)))
