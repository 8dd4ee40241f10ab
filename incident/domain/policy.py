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
    usable: Collection[str],
    problems: Mapping[str, str],
    contact_kinds: Mapping[str, Sequence[str]],
    exhausted: Collection[str],
) -> Route:
    """First channel of the chain that exists, has a usable contact point and has not failed.

    `usable`: channels for which the person has a usable contact point; `problems`: why a
    contact kind is unusable, as enrichment recorded it (for the reason given)."""
    skipped: list[str] = []
    for channel in fallback_chain:
        if channel not in available:
            continue
        if channel in exhausted:
            skipped.append(f"{channel}: failed")
        elif channel not in usable:
            why = "; ".join(f"{k} {problems.get(k, 'missing')}" for k in contact_kinds[channel])
            skipped.append(f"{channel}: {why}")
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
