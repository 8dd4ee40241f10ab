"""Where enrichment finds the people in an incident's scope: the `DirectorySource` protocol.

`LocalDirectory` reads the `person` table (filled by `breachnotice people import`) and resolves
every kind of scope (`incident.domain.incident_spec.Scope`), giving each person the data
categories exposed for them. `SqlDirectory` reads a live read-only database (settings `[directory]`,
`sql_source`); enrichment first caches the in-scope rows it reads into person/contact_point
(`incident.service.directory.sync_scope`), so dispatch reads contact points from our database
as for any other person: what is cached is exactly what was read, keyed by person id.

Scope semantics. A directory filter streams by keyset over `person.id`. Ids (`people`,
`people_file`) stream in chunks; a set of the ids seen (~70 bytes each) drops repeats. A
records file is aggregated per person (key -> union of categories; ~100 bytes per person).
`any_of` of filters is one SQL OR, `all_of` of filters one SQL AND; combinations with ids or
records hold the ids of those branches in memory. Categories: a filter or id branch gives the
incident's categories, a records branch the record's; `any_of` takes the union, `all_of` the
intersection (the union if that is empty). Keys matching nobody are reported through `missed`.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, column, text, true
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine, RowMapping
from sqlmodel import Session, col, or_, select

from incident.adapters.bulk import among
from incident.adapters.db import make_engine
from incident.adapters.tables import ContactPoint, Person
from incident.domain.directory_rows import KNOWN_FIELDS, PersonRecord, RowRejected, parse_row
from incident.domain.jurisdiction import region_variants
from incident.errors import ConfigError

CHUNK = 2000
Cats = frozenset[str]
_FILTERS = ("countries", "regions", "created_between", "active_between")


class DirectorySource(Protocol):
    def people_in_scope(self, scope: Mapping[str, Any]) -> Iterator[list[PersonRecord]]: ...


class Misses(Protocol):
    def missed(self, keys: Sequence[str], kind: str = "id") -> None: ...


def is_filter(scope: Mapping[str, Any]) -> bool:
    return any(scope.get(k) for k in _FILTERS) and not any(
        scope.get(k) is not None
        for k in ("people", "people_file", "records_file", "any_of", "all_of")
    )


def is_sql(scope: Mapping[str, Any]) -> bool:
    """A filter, or any_of/all_of of filters only: one SQL condition, streamed."""
    for key in ("any_of", "all_of"):
        if scope.get(key):
            return all(is_sql(c) for c in scope[key])
    return is_filter(scope)


_PERSON = Person.__table__  # type: ignore[attr-defined]
# Read as plain rows (SQLAlchemy core), not ORM instances: this is enrichment's hot path.
_FIELDS = ("id", "name", "country", "locale", "region", "birth_date", "is_minor",
           "guardian_id", "channel_preferences", "created_at", "last_active_at")  # fmt: skip
_COLUMNS = [_PERSON.c[n] for n in _FIELDS]


def record_of(row: Sequence[Any], categories: Cats | None = None) -> PersonRecord:
    """A `_COLUMNS` row as a PersonRecord."""
    pid, name, country, locale, region, born, minor, guardian, prefs, created, active = row
    return PersonRecord(
        pid, name, country, locale, region, born, bool(minor), guardian, tuple(prefs or ()),
        created, active, categories=categories,
    )  # fmt: skip


def people_by_id(session: Session, ids: Collection[str]) -> dict[str, PersonRecord]:
    """These people (guardians, for instance) as records, by id."""
    if not ids:
        return {}
    where = among(_PERSON.c.id, ids, session.get_bind().dialect)
    rows = session.execute(sa_select(*_COLUMNS).where(where))
    return {r[0]: record_of(r) for r in rows}


def _day(text: str, *, after: bool = False) -> datetime:
    day = date.fromisoformat(text) + timedelta(days=1 if after else 0)
    return datetime.combine(day, time(), UTC)


def filter_clause(scope: Mapping[str, Any]) -> Any:
    """Place (any of the countries/regions) and dates (both ends included), ANDed."""
    clauses: list[Any] = []
    places: list[Any] = []
    if scope.get("countries"):
        places.append(col(Person.country).in_(scope["countries"]))
    for region in scope.get("regions") or []:
        country = region.split("-", 1)[0]
        places.append(
            and_(col(Person.country) == country, col(Person.region).in_(region_variants(region)))
        )
    if places:
        clauses.append(or_(*places))
    for key, stamp in (
        ("created_between", Person.created_at),
        ("active_between", Person.last_active_at),
    ):
        if scope.get(key):
            first, last = scope[key]
            clauses.append(and_(col(stamp) >= _day(first), col(stamp) < _day(last, after=True)))
    return and_(*clauses) if clauses else true()


class LocalDirectory:
    """The `person` table; `default` is the incident's categories."""

    def __init__(self, session: Session, *, default: Cats, misses: Misses) -> None:
        self.session, self.default, self.misses = session, default, misses

    def people_in_scope(self, scope: Mapping[str, Any]) -> Iterator[list[PersonRecord]]:
        yield from self._members(scope)

    def _members(self, scope: Mapping[str, Any]) -> Iterator[list[PersonRecord]]:
        if is_sql(scope):
            yield from self._filtered(self._clause(scope), scope)
        elif scope.get("people") is not None:
            yield from self._by_ids(iter(scope["people"]))
        elif scope.get("people_file"):
            yield from self._by_ids(_lines(scope["people_file"]))
        else:
            cats, where = self._collect(scope)
            # Ids of a records file are checked as they are read, not in a pass of their own.
            yield from self._from_map(cats, where, "record" if scope.get("records_file") else "")

    def _clause(self, scope: Mapping[str, Any]) -> Any:
        if scope.get("any_of"):
            return or_(*(self._clause(c) for c in scope["any_of"]))
        if scope.get("all_of"):
            return and_(*(self._clause(c) for c in scope["all_of"]))
        return filter_clause(scope)

    def _filtered(self, where: Any, scope: Mapping[str, Any]) -> Iterator[list[PersonRecord]]:
        """One query in id order, streamed in chunks from a connection of its own: the table
        is read once (a keyset page per chunk made the database find its place again for
        every page, slower and slower as the scan advanced when a filter index was chosen).
        """
        found = False
        query = sa_select(*_COLUMNS).where(where).order_by(_PERSON.c.id)
        bind = self.session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
            for rows in result.partitions(CHUNK):
                found = True
                yield [record_of(r, self.default) for r in rows]
        if not found:
            self.misses.missed([_describe(scope)], "filter")

    def _by_ids(self, ids: Iterator[str]) -> Iterator[list[PersonRecord]]:
        seen: set[str] = set()
        chunk: list[str] = []
        for pid in ids:
            if pid not in seen:
                seen.add(pid)
                chunk.append(pid)
            if len(chunk) >= CHUNK:
                yield self._fetch(chunk, report="id")
                chunk = []
        if chunk:
            yield self._fetch(chunk, report="id")

    def _fetch(
        self,
        ids: Sequence[str],
        *,
        where: Any = None,
        cats: Mapping[str, Cats] | None = None,
        report: str = "",
    ) -> list[PersonRecord]:
        dialect = self.session.get_bind().dialect
        query = sa_select(*_COLUMNS).where(among(_PERSON.c.id, ids, dialect))
        rows = self.session.execute(query if where is None else query.where(where)).all()
        if report:
            found = {r[0] for r in rows}
            self.misses.missed([pid for pid in ids if pid not in found], report)
        return [record_of(r, cats[r[0]] if cats else self.default) for r in rows]

    def _from_map(
        self, cats: Mapping[str, Cats], where: Any, report: str = ""
    ) -> Iterator[list[PersonRecord]]:
        ids = sorted(cats)
        for i in range(0, len(ids), CHUNK):
            rows = self._fetch(ids[i : i + CHUNK], where=where, cats=cats, report=report)
            if rows:
                yield rows

    def _collect(self, scope: Mapping[str, Any]) -> tuple[dict[str, Cats], Any]:
        """Person id -> categories of a records file or a combination, and a SQL condition
        the people must also meet (the filter branches of an `all_of`)."""
        if scope.get("records_file"):
            return self._records(scope["records_file"], scope.get("has_categories")), None
        if scope.get("any_of"):
            merged: dict[str, Cats] = {}
            for child in scope["any_of"]:
                for chunk in self._members(child):
                    for r in chunk:
                        merged[r.id] = merged.get(r.id, frozenset()) | (r.categories or Cats())
            return merged, None
        parts = [c for c in scope["all_of"] if not is_sql(c)]
        wheres = [self._clause(c) for c in scope["all_of"] if c not in parts]
        maps = [
            {r.id: r.categories or Cats() for ch in self._members(c) for r in ch} for c in parts
        ]
        common = set(maps[0]).intersection(*maps[1:])
        out = {pid: (frozenset.intersection(*(m[pid] for m in maps))
                     or frozenset().union(*(m[pid] for m in maps))) for pid in common}  # fmt: skip
        return out, and_(*wheres) if wheres else None

    def _records(self, path: str, only: Sequence[str] | None) -> dict[str, Cats]:
        """Key -> union of categories; ids are checked when the people are fetched. One set
        object per distinct set of categories (a million rows share a handful)."""
        by_key: dict[str, dict[str, Cats]] = {"id": {}, "email": {}, "phone": {}}
        shared: dict[Cats, Cats] = {}
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                kind, key = (row.get("key_type") or "").strip(), (row.get("key") or "").strip()
                cats = frozenset(
                    c.strip() for c in (row.get("categories") or "").split(";") if c.strip()
                )
                if kind not in by_key or not key or (only and not cats & set(only)):
                    continue
                old = by_key[kind].get(key)
                cats = cats if old is None else old | cats
                by_key[kind][key] = shared.setdefault(cats, cats)
        out = by_key["id"]
        for kind in ("email", "phone"):
            self._points(kind, by_key[kind], out)
        return out

    def _points(self, kind: str, keys: Mapping[str, Cats], out: dict[str, Cats]) -> None:
        values = sorted(keys)
        for i in range(0, len(values), CHUNK):
            chunk = values[i : i + CHUNK]
            rows = self.session.exec(
                select(ContactPoint.value, ContactPoint.person_id).where(
                    ContactPoint.kind == kind,
                    among(col(ContactPoint.value), chunk, self.session.get_bind().dialect),
                )
            ).all()
            matched = set()
            for value, pid in rows:
                matched.add(value)
                out[pid] = out.get(pid, frozenset()) | keys[value]
            self.misses.missed([f"{kind}:{v}" for v in chunk if v not in matched], "record")


def _lines(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8-sig") as handle:
        for line in handle:
            if line.strip():
                yield line.strip()


def _describe(scope: Mapping[str, Any]) -> str:
    if scope.get("any_of") or scope.get("all_of"):
        return "combined filter"
    return ", ".join(f"{k}={scope[k]}" for k in _FILTERS if scope.get(k))


class SqlDirectory:
    """A live, read-only directory: `query`'s result columns named by `column_map` (field ->
    column). The query is wrapped as a subquery; the scope becomes a WHERE on the mapped
    columns with bound parameters, paged by keyset on the id column. Nothing is copied here;
    rows are validated leniently: a bad field is listed in `PersonRecord.problems`."""

    def __init__(
        self,
        engine: Engine,
        *,
        query: str,
        column_map: Mapping[str, str],
        channels: Collection[str],
        page: int = CHUNK,
    ) -> None:
        unknown = set(column_map) - KNOWN_FIELDS
        if "id" not in column_map or unknown:
            rule = f"must map `id` and known fields only; unknown: {sorted(unknown)}"
            raise ConfigError("settings", "directory", "column_map", rule)
        self.engine, self.column_map, self.channels, self.page = (
            engine,
            dict(column_map),
            channels,
            page,
        )
        self.rows = (
            text(query).columns(*(column(c) for c in set(column_map.values()))).subquery("d")
        )
        self.skipped = 0  # rows without a usable id

    def _col(self, name: str) -> Any:
        return self.rows.c[self.column_map[name]] if name in self.column_map else None

    def people_in_scope(self, scope: Mapping[str, Any]) -> Iterator[list[PersonRecord]]:
        for child in [*(scope.get("any_of") or []), *(scope.get("all_of") or [])]:
            yield from self.people_in_scope(child)  # a superset for all_of: enrichment decides
        if scope.get("people") is not None:
            yield from self._keyed("id", iter(scope["people"]))
        elif scope.get("people_file"):
            yield from self._keyed("id", _lines(scope["people_file"]))
        elif scope.get("records_file"):
            for kind in ("id", "email", "phone"):
                yield from self._keyed(kind, _record_keys(scope["records_file"], kind))
        elif is_filter(scope):
            yield from self._pages(self._where(scope))

    def _where(self, scope: Mapping[str, Any]) -> Any:
        clauses: list[Any] = []
        country, region = self._col("country"), self._col("region")
        places = (
            [country.in_(scope["countries"])]
            if scope.get("countries") and country is not None
            else []
        )
        for code in scope.get("regions") or []:
            if country is not None and region is not None:
                places.append(
                    and_(country == code.split("-")[0], region.in_(region_variants(code)))
                )
        if places:
            clauses.append(or_(*places))
        for key, name in (("created_between", "created_at"), ("active_between", "last_active_at")):
            if scope.get(key) and self._col(name) is not None:
                first, last = scope[key]
                clauses.append(
                    and_(self._col(name) >= _day(first), self._col(name) < _day(last, after=True))
                )
        return and_(*clauses) if clauses else true()

    def _pages(self, where: Any) -> Iterator[list[PersonRecord]]:
        ident, last = self._col("id"), ""
        with self.engine.connect() as conn:
            while True:
                query = (
                    sa_select(self.rows).where(where, ident > last).order_by(ident).limit(self.page)
                )
                rows = conn.execute(query).mappings().all()
                if not rows:
                    return
                yield self._records(rows)
                last = rows[-1][self.column_map["id"]]

    def _keyed(self, field: str, keys: Iterator[str]) -> Iterator[list[PersonRecord]]:
        target = self._col(field)
        if target is None:
            return
        with self.engine.connect() as conn:
            for chunk in _batched(keys, self.page):
                rows = conn.execute(sa_select(self.rows).where(target.in_(chunk))).mappings().all()
                if rows:
                    yield self._records(rows)

    def _records(self, rows: Sequence[RowMapping]) -> list[PersonRecord]:
        out = []
        for row in rows:
            raw = {name: row[c] for name, c in self.column_map.items()}
            try:
                out.append(parse_row(raw, line=0, channels=self.channels, lenient=True))
            except RowRejected:
                self.skipped += 1
        return out


def _batched(items: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _record_keys(path: str, kind: str) -> Iterator[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if (row.get("key_type") or "").strip() == kind and (row.get("key") or "").strip():
                yield (row.get("key") or "").strip()


def sql_source(settings: Any, channels: Collection[str]) -> SqlDirectory | None:
    """The live directory of settings `[directory]`, or None when no `url` is set."""
    if not settings.url:
        return None
    engine = make_engine(settings.url)
    return SqlDirectory(
        engine, query=settings.query, column_map=settings.column_map, channels=channels
    )
