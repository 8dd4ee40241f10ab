"""Several accounts of one human become one recipient: pure grouping, no I/O.

Affected people whose recipient is reached at the same email address (normal form: domain
lowercased, IDNA-normalised; local part as stored) or the same E.164 number are one human with
several accounts. They are told once: one notice, to the group's representative (the smallest
person id: deterministic whatever the order people were read in), listing every affected
account. Links are transitive (A shares an email with B, B a phone with C: one group).

Only usable contact points link people (a point with a recorded problem proves nothing), and
only people who are their own recipient: a minor is told through a guardian in a notice that
names the child, so two children of one guardian keep a notice each.

What enrichment stores: the representative's AffectedPerson carries
`contact_problems["accounts"]` (ids, one a line), which planning turns into the notice's account
list; each other member's AffectedPerson carries `contact_problems["merged_into"]` and the
representative as recipient, and gets no notice of its own. Contact values are never stored
with the merge: the key index holds digests (`contact_key`), the audit event holds ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass

import idna

ACCOUNTS = "accounts"  # contact_problems key on the representative: ids, one a line
MERGED_INTO = "merged_into"  # contact_problems key on the other members: the representative
LINKING_KINDS = ("email", "phone")
_PHONE_PUNCTUATION = str.maketrans("", "", " -().")


def normal_contact(kind: str, value: str) -> str | None:
    """The value two accounts of one human share, or None when this kind does not link."""
    if kind == "email":
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or not domain:
            return None
        if "xn--" in domain.lower():
            with suppress(idna.IDNAError, UnicodeError):
                domain = idna.decode(domain)  # IDNA 2008, as the directory stores it
        return f"{local}@{domain.lower()}"
    if kind == "phone":
        number = value.translate(_PHONE_PUNCTUATION)
        return number if number.startswith("+") and number[1:].isdigit() else None
    return None


def contact_key(kind: str, value: str) -> str | None:
    """A digest of the normal form: what the cross-chunk index stores instead of the value."""
    normal = normal_contact(kind, value)
    if normal is None:
        return None
    return hashlib.blake2b(f"{kind}:{normal}".encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Group:
    representative: str
    members: tuple[str, ...]  # every account of the group, representative first, then sorted
    keys: frozenset[str]  # contact keys (digests) of the whole group
    kinds: tuple[str, ...]  # the kinds that linked them (for the record; never the values)


def group_people(keys: Mapping[str, Iterable[tuple[str, str]]]) -> list[Group]:
    """Groups of two or more people sharing a key. `keys`: person id -> (kind, key) pairs."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, str] = {}
    linked_by: dict[str, set[str]] = {}
    for pid in sorted(keys):
        parent.setdefault(pid, pid)
        for kind, key in keys[pid]:
            other = owner.setdefault(key, pid)
            if other != pid:
                a, b = root(other), root(pid)
                if a != b:
                    parent[max(a, b)] = min(a, b)
                linked_by.setdefault(pid, set()).add(kind)
    members: dict[str, list[str]] = {}
    for pid in parent:
        members.setdefault(root(pid), []).append(pid)
    groups = []
    for ids in members.values():
        if len(ids) < 2:
            continue
        ids.sort()
        kinds = sorted(set().union(*(linked_by.get(i, set()) for i in ids)))
        group_keys = frozenset(k for i in ids for _, k in keys[i])
        groups.append(Group(ids[0], tuple(ids), group_keys, tuple(kinds)))
    return sorted(groups, key=lambda g: g.representative)


def accounts_of(problems: Mapping[str, str]) -> tuple[str, ...]:
    """The accounts a notice lists: those merged into it (none for a notice of one account)."""
    listed = problems.get(ACCOUNTS, "")
    return tuple(a for a in listed.split("\n") if a)  # ids have no control characters
