"""`breachnotice notices preview`: a notice exactly as one person would receive it, and what the
content checks find, without sending or storing anything.

    breachnotice notices preview INCIDENT_FILE --locale nl --jurisdiction US-CA
                                 [--channel email] [--format text|html] [--name NAME]

The notice goes to standard output; content-check problems go to standard error. Exit codes:
0 rendered (problems, if any, are warnings), 1 a required section is empty (the notice could
not be sent), 2 bad input (file, locale, jurisdiction, channel or format).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incident.errors import ConfigError, DocumentError, InvalidInputs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from channels.base import ContactPointData, RenderedMessage
    from incident.adapters.tables import Incident, Person
    from incident.domain.content import ContentProblem, IncidentContent
    from incident.domain.incident_spec import IncidentSpec
    from incident.service.compose import Composer

PREVIEW_ID = "PREVIEW"
PREVIEW_DIR = Path("out") / "preview"
INCIDENT_WIDE = frozenset({"dates"})  # content-check kinds about the incident, not a notice
SAMPLE_SCAN = 20_000  # affected people read to pick a sample from (the first, by id)


class Format(StrEnum):
    text = "text"
    html = "html"


def incident_row(spec: IncidentSpec, incident_id: str = PREVIEW_ID) -> Incident:
    """The row intake would store for `spec`, in memory only."""
    from incident.service import intake

    return intake.incident_row(
        spec, incident_id=incident_id, status="preview", now=datetime.now(UTC)
    )


def sendable(
    channel: str, msg: RenderedMessage, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict[str, bytes]:
    """What `channel` would send for `msg`, by file extension, built by the channel's own code
    and sent nowhere: email text (with its subject) and HTML, the SMS body as budgeted, the
    spoken voice script, the push payload, the letter's PDF, the public page."""
    from channels.letter import LetterChannel
    from channels.push import PushChannel, topic_for
    from channels.sms import SmsChannel, SmsSettings
    from channels.voice import VoiceChannel, VoiceSettings, spoken

    if channel == "sms":
        return {"txt": (SmsChannel(SmsSettings()).body_for(msg) + "\n").encode()}
    if channel == "voice":
        # With a keypress URL (as in production) the call asks the person to press 1.
        voice = VoiceChannel(VoiceSettings(confirm_url="https://preview.invalid/confirm"))
        return {"txt": spoken(voice.twiml(msg)).encode()}
    if channel == "push":
        push = PushChannel(vapid_private_key=None, local_dir=Path("."))
        note = json.loads(push.payload(msg, topic_for(msg.idempotency_key)))
        return {"json": (json.dumps(note, ensure_ascii=False, indent=2) + "\n").encode()}
    if channel == "letter":
        return {"pdf": LetterChannel(drop_folder=Path("."), clock=clock).build(msg)[0]}
    files = {"txt": msg.body_text.encode()}
    if msg.subject is not None:
        files["txt"] = f"Subject: {msg.subject}\n\n".encode() + files["txt"]
    if msg.body_html is not None:
        files["html"] = msg.body_html.encode()
    return files


def _jurisdictions(spec: IncidentSpec) -> Sequence[str | None]:
    """Where the incident's readers may live: its scope, plus every subdivision of a scoped
    country that has a notice format or a rule of its own (a US scope checks US-CA and US-MA)."""
    from incident.domain.content import load_formats
    from incident.domain.jurisdiction import country_of
    from incident.obligations import load_rules

    countries = set(spec.scope.countries)
    if spec.scope.people is not None:
        return [None]
    rules = load_rules()
    known = set(load_formats().formats) | {
        j for r in rules.rules for j in r.applies_when.jurisdictions if not j.startswith("@")
    }
    subdivisions = {j for j in known if "-" in j and country_of(j) in countries}
    return [*sorted({*countries, *spec.scope.regions, *subdivisions})]


def content_warnings(
    spec: IncidentContent | IncidentSpec, jurisdictions: Iterable[str | None] | None = None
) -> list[ContentProblem]:
    """Content-check problems of an incident for every jurisdiction of its scope and every
    locale it is written in: what `incident raise` prints as warnings."""
    from incident.domain.content import check_notice_content
    from incident.domain.incident_spec import IncidentSpec

    places: Sequence[str | None] = [None]
    if jurisdictions is not None:
        places = list(jurisdictions)
    elif isinstance(spec, IncidentSpec):
        places = _jurisdictions(spec)
    locales = sorted({loc for texts in (spec.description, spec.impact) for loc in texts})
    found: list[ContentProblem] = []
    said: set[str] = set()  # what concerns the incident itself (its dates) is said once
    now = datetime.now(UTC)
    for place in places:
        for locale in locales:
            for p in check_notice_content(spec, place, locale, raised=now):
                if p.kind in INCIDENT_WIDE:
                    if p.detail in said:
                        continue
                    said.add(p.detail)
                found.append(p)
    return found


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _report(problems: list[ContentProblem]) -> None:
    if not problems:
        typer.echo("content check: no problems", err=True)
        return
    typer.echo(f"content check: {len(problems)} problem(s)", err=True)
    for problem in problems:
        typer.echo(f"  {problem}", err=True)


class Unreachable(str):
    """Why an affected person's notice cannot be routed (they are known, but unreachable)."""


@dataclass(frozen=True, slots=True)
class Reader:
    """One notice to preview: who reads it, where they live, the channel and contact point."""

    recipient: Person
    subject: Person
    jurisdiction: str | None
    channel: str
    categories: tuple[str, ...]
    contact: ContactPointData | None = None


def _stored(incident_id: str) -> tuple[Incident, Engine]:
    """A stored incident, read with the settings' database_url (nothing is written)."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from incident.adapters.db import make_engine
    from incident.adapters.tables import Incident
    from incident.settings import Settings

    try:
        settings = Settings()
    except ValueError as exc:
        raise _fail(f"configuration error: {exc}") from exc
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        with Session(engine) as session:
            incident = session.get(Incident, incident_id)
    except SQLAlchemyError as exc:
        raise _fail(f"INCIDENT: {incident_id!r} is not a file, and the database cannot be "
                    f"read: {type(exc).__name__}") from exc  # fmt: skip
    if incident is None:
        raise _fail(f"INCIDENT: {incident_id!r} is neither a file nor a stored incident")
    return incident, engine


def planned(
    session: Session, incident: Incident, person_id: str, chain: Sequence[str],
    channel: str | None = None,
) -> Reader | str:  # fmt: skip
    """`person_id`'s notice as planning routes it: their guardian when a minor, their locale
    and jurisdiction, the first usable channel of the chain (or `channel`); else why not."""
    from sqlmodel import select

    from channels import REGISTRY
    from incident.adapters.tables import AffectedPerson, Person
    from incident.domain.contacts import usable_contact_points
    from incident.domain.policy import next_channel, preferred_order
    from incident.service.directory import load_contacts

    found = session.exec(
        select(AffectedPerson).where(
            AffectedPerson.incident_id == incident.id, AffectedPerson.person_id == person_id
        )
    ).first()
    if found is None:
        return f"{person_id!r} is not affected by {incident.id}"
    recipient, subject = session.get(Person, found.recipient_id), session.get(Person, person_id)
    if recipient is None or subject is None:
        return f"{person_id!r} is no longer in the directory"
    kinds = {n: REGISTRY[n].contact_kinds for n in (*chain, *([channel] if channel else []))}
    points = load_contacts(session, {recipient.id}, {k for ks in kinds.values() for k in ks})
    usable = {n: usable_contact_points(k, points.get(recipient.id, [])) for n, k in kinds.items()}
    if channel is None:
        route = next_channel(
            preferred_order(chain, recipient.channel_preferences), available=kinds.keys(),
            usable={n for n, pts in usable.items() if pts}, problems=found.contact_problems,
            contact_kinds=kinds, exhausted=(),
        )  # fmt: skip
        if route.channel is None:
            return Unreachable(f"{person_id!r} is unreachable: {route.reason}")
        channel = route.channel
    point = usable[channel][0].as_data(recipient.country) if usable[channel] else None
    categories = tuple(found.categories) or tuple(incident.categories)
    return Reader(recipient, subject, found.jurisdiction, channel, categories, point)


def sample(
    session: Session, incident: Incident, n: int, chain: Sequence[str], channel: str | None
) -> list[Reader]:
    """`n` affected people spread across locales, jurisdictions and channels: each pick adds
    as many not-yet-seen values of the three as it can (ties: the lowest person id)."""
    from sqlmodel import col, select

    from incident.adapters.tables import AffectedPerson, Person

    rows = session.exec(
        select(AffectedPerson.person_id, AffectedPerson.jurisdiction, Person.locale)
        .join(Person, col(Person.id) == col(AffectedPerson.recipient_id))
        .where(AffectedPerson.incident_id == incident.id)
        .order_by(col(AffectedPerson.person_id))
        .limit(SAMPLE_SCAN)
    ).all()
    groups: dict[tuple[str, str], list[str]] = {}
    for person_id, jurisdiction, locale in rows:
        group = groups.setdefault((jurisdiction, locale), [])
        if len(group) < n:
            group.append(person_id)
    routed = (planned(session, incident, i, chain, channel) for g in groups.values() for i in g)
    candidates = [r for r in routed if isinstance(r, Reader)]
    seen: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    picked: list[Reader] = []
    while candidates and len(picked) < n:
        best = max(candidates, key=lambda r: _news(r, seen))
        candidates.remove(best)
        picked.append(best)
        for value, bucket in zip(_dims(best), seen, strict=True):
            bucket.add(value)
    return picked


def in_locale(reader: Reader, locale: str | None) -> Reader:
    """`reader` reading in `locale` (--locale given with --person/--sample), else as stored."""
    from incident.adapters.tables import Person

    if locale is None or locale == reader.recipient.locale:
        return reader
    typer.echo(f"-- {reader.recipient.id}: shown in {locale} (--locale), their own is "
               f"{reader.recipient.locale}", err=True)  # fmt: skip
    recipient = Person.model_validate(reader.recipient.model_dump() | {"locale": locale})
    same = reader.subject.id == reader.recipient.id
    return replace(reader, recipient=recipient, subject=recipient if same else reader.subject)


def _dims(r: Reader) -> tuple[str, str, str]:
    return r.recipient.locale, r.jurisdiction or "-", r.channel


def _news(r: Reader, seen: tuple[set[str], set[str], set[str]]) -> int:
    return sum(value not in bucket for value, bucket in zip(_dims(r), seen, strict=True))


def _show(composer: Composer, incident: Incident, reader: Reader, out: Path, html: bool) -> bool:
    """Print one notice, write its HTML and PDF, give the content check's verdict; False when
    it could not be sent."""
    from channels.errors import ChannelError
    from channels.letter import split_furniture
    from channels.safe_files import inside
    from incident.domain.content import BLOCKING, MissingSection, check_notice_content
    from incident.service.compose import Delivery

    channel, locale = reader.channel, reader.recipient.locale
    problems = check_notice_content(incident, reader.jurisdiction, locale)
    d = Delivery(f"{incident.id}:{reader.subject.id}:{channel}:{incident.notice_version}", 0,
                 channel, incident, reader.recipient, reader.subject, reader.categories,
                 reader.contact, jurisdiction=reader.jurisdiction)  # fmt: skip
    try:
        msg = composer.message(d)
    except MissingSection as exc:
        _report(problems)
        typer.echo(f"cannot be sent: {exc}", err=True)
        return False
    if channel == "letter" and reader.contact is None:
        files: dict[str, bytes] = {}
        typer.echo("letter: no postal address, so no PDF drawn", err=True)
    else:
        try:
            files = sendable(channel, msg)
        except ChannelError as exc:
            typer.echo(f"{channel}: would be refused: {exc}", err=True)
            files = {} if channel == "letter" else {"txt": msg.body_text.encode()}
    if channel == "letter":  # the text as printed, without the layout's furniture lines
        files["txt"] = f"{msg.subject}\n\n{split_furniture(msg.body_text)[1]}\n".encode()
    shown = files.get("html") if html else files.get("txt") or files.get("json")
    if shown is None:
        raise _fail(f"--format: the {channel} channel has no html part")
    typer.echo(shown.decode(), nl=False)
    for ext in ("html", "pdf"):
        if ext in files:
            name = f"{reader.subject.id}-{channel}-{locale}.{ext}"
            try:  # ids and the locale come from outside: the file stays under out/preview
                path = inside(out, incident.id, name)
            except ValueError as exc:
                raise _fail(f"not written: {exc}") from exc
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[ext])
            typer.echo(f"wrote {path}", err=True)
    _report(problems)
    return not any(p.kind in BLOCKING for p in problems)


def preview_command(
    incident_ref: Annotated[str, typer.Argument(
        metavar="INCIDENT", help="Incident file (YAML or JSON) or a stored incident id.")],
    locale: Annotated[str | None, typer.Option(help=(
        "The reader's locale, e.g. nl or pt_BR (default en; with --person or --sample: "
        "each reader's own)."))] = None,
    jurisdiction: Annotated[
        str | None, typer.Option(help="The reader's jurisdiction (ISO 3166), e.g. NL or US-CA.")
    ] = None,
    channel: Annotated[str | None, typer.Option(
        help="The channel whose notice to show (default: email; with --person or --sample "
             "the channel planning would use).")] = None,
    output: Annotated[Format, typer.Option("--format", help="Which part to show.")] = Format.text,
    name: Annotated[str, typer.Option(help="The reader's name.")] = "Alex Example",
    person: Annotated[str | None, typer.Option(
        help="A stored incident's affected person: their notice as it would be routed.")] = None,
    sample_size: Annotated[int | None, typer.Option("--sample", min=1, help=(
        "N affected people of a stored incident, spread across locales, jurisdictions and "
        "channels."))] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where HTML and PDF go (default: <out_dir>/preview).")
    ] = None,
) -> None:  # fmt: skip
    """Render notices exactly as they would be sent, without sending anything: text here, HTML
    and PDF written to files (paths printed), and the content check's verdict per notice."""
    from channels import REGISTRY
    from incident.adapters.tables import Person
    from incident.domain.incident_spec import LOCALE
    from incident.domain.jurisdiction import country_of, is_valid_jurisdiction
    from incident.rendering import normalize_locale

    locale = normalize_locale(locale) if locale is not None else None
    if locale is not None and not LOCALE.match(locale):
        raise _fail(f"--locale: {locale!r} is invalid: not like `nl` or `pt_BR`")
    if jurisdiction is not None and not is_valid_jurisdiction(jurisdiction):
        raise _fail(f"--jurisdiction: {jurisdiction!r} is invalid: not an ISO 3166 code")
    if channel is not None and channel not in REGISTRY:
        raise _fail(f"--channel: {channel!r} is invalid: one of {sorted(REGISTRY)}")
    if person is not None and sample_size is not None:
        raise _fail("--person and --sample: give one of them")
    engine = None
    if Path(incident_ref).is_file():
        incident = incident_row(_spec(Path(incident_ref)))
    else:
        incident, engine = _stored(incident_ref)
    if engine is None and (person or sample_size):
        raise _fail("--person/--sample: INCIDENT must be a stored incident id")
    composer = _composer(channel)
    if engine is None or not (person or sample_size):
        country = country_of(jurisdiction) if jurisdiction else "ZZ"
        region = jurisdiction if jurisdiction and "-" in jurisdiction else None
        reader = Person(
            id="preview", name=name, locale=locale or "en", country=country, region=region
        )
        readers = [Reader(reader, reader, jurisdiction, channel or "email",
                          tuple(incident.categories))]  # fmt: skip
    else:
        readers = [
            in_locale(r, locale) for r in _readers(engine, incident, person, sample_size, channel)
        ]
    folder = out or _out_dir()
    sent = [_show(composer, incident, r, folder, output is Format.html) for r in readers]
    if not all(sent):
        raise typer.Exit(1)


def _readers(engine: Engine, incident: Incident, person: str | None, n: int | None,
             channel: str | None) -> list[Reader]:  # fmt: skip
    from sqlmodel import Session

    from channels import REGISTRY
    from incident.settings import Settings

    chain = [c for c in Settings().dispatch.fallback_chain if c in REGISTRY]
    with Session(engine) as session:
        if person is not None:
            found = planned(session, incident, person, chain, channel)
            if isinstance(found, str):  # not found: 2; found but unreachable: 1
                raise _fail(f"--person: {found}", 1 if isinstance(found, Unreachable) else 2)
            return [found]
        readers = sample(session, incident, n or 1, chain, channel)
    if not readers:
        raise _fail(f"--sample: {incident.id} has no reachable affected people", 1)
    for r in readers:
        typer.echo(f"== {r.subject.id}: {r.recipient.locale}, {r.jurisdiction}, {r.channel}",
                   err=True)  # fmt: skip
    return readers


def _out_dir() -> Path:
    from incident.settings import Settings

    try:
        return Settings().out_dir / "preview"
    except ValueError:
        return PREVIEW_DIR


def _spec(path: Path) -> IncidentSpec:
    from incident.adapters.documents import load_document
    from incident.domain.incident_spec import parse_incident_spec

    try:
        return parse_incident_spec(load_document(path))
    except (DocumentError, InvalidInputs) as exc:
        typer.echo(f"{path}: invalid incident", err=True)
        for problem in exc.errors if isinstance(exc, InvalidInputs) else [exc]:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from exc


def _composer(channel: str | None) -> Composer:
    from channels import REGISTRY
    from incident.rendering import Renderer
    from incident.service.compose import Composer
    from incident.settings import templates_dir

    parts = {n: REGISTRY[n].template_parts for n in ([channel] if channel else REGISTRY)}
    try:
        renderer = Renderer(templates_dir(), required_parts=parts)
        renderer.check(parts)
        # The preview shows the notice whatever the check says, and lists the problems.
        return Composer(
            renderer,
            message_domain="preview.invalid",
            message_key=b"preview: nothing is sent",
            enforce_content=False,
        )
    except ConfigError as exc:
        raise _fail(f"configuration error: {exc}") from exc
