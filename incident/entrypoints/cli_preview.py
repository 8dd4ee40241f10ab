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
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from channels import REGISTRY
from channels.base import RenderedMessage
from channels.letter import LetterChannel
from channels.push import PushChannel, topic_for
from channels.sms import SmsChannel, SmsSettings
from channels.voice import VoiceChannel, VoiceSettings, spoken
from incident.adapters.documents import load_document
from incident.adapters.tables import Incident, Person
from incident.domain.content import (
    BLOCKING,
    ContentProblem,
    IncidentContent,
    MissingSection,
    check_notice_content,
    load_formats,
)
from incident.domain.incident_spec import LOCALE, IncidentSpec, parse_incident_spec
from incident.domain.jurisdiction import country_of, is_valid_jurisdiction
from incident.errors import ConfigError, DocumentError, InvalidInputs
from incident.obligations import load_rules
from incident.rendering import Renderer, normalize_locale
from incident.service.compose import Composer, Delivery
from incident.settings import templates_dir

PREVIEW_ID = "PREVIEW"


class Format(StrEnum):
    text = "text"
    html = "html"


def incident_row(spec: IncidentSpec, incident_id: str = PREVIEW_ID) -> Incident:
    """The row intake would store for `spec`, in memory only."""
    return Incident(
        id=incident_id,
        title=spec.title,
        severity=spec.severity.value,
        status="preview",
        description=spec.description,
        impact=spec.impact,
        measures_taken=spec.measures_taken,
        measures_planned=spec.measures_planned,
        advice=spec.advice,
        remedies=spec.remedies,
        categories=[c.value for c in spec.categories],
        scope=spec.scope.model_dump(exclude_none=True),
        flags=spec.flags,
        contact=spec.contact.model_dump(exclude_none=True),
        aware_at=spec.aware_at,
        discovered_at=spec.discovered_at,
        occurred_at=spec.occurred_at,
        created_at=datetime.now(UTC),
    )


def sendable(
    channel: str, msg: RenderedMessage, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict[str, bytes]:
    """What `channel` would send for `msg`, by file extension, built by the channel's own code
    and sent nowhere: email text (with its subject) and HTML, the SMS body as budgeted, the
    spoken voice script, the push payload, the letter's PDF, the public page."""
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
    places: Sequence[str | None] = [None]
    if jurisdictions is not None:
        places = list(jurisdictions)
    elif isinstance(spec, IncidentSpec):
        places = _jurisdictions(spec)
    locales = sorted({loc for texts in (spec.description, spec.impact) for loc in texts})
    found: list[ContentProblem] = []
    for place in places:
        for locale in locales:
            found += check_notice_content(spec, place, locale)
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


def preview_command(
    incident_file: Annotated[Path, typer.Argument(help="Incident file, YAML or JSON.")],
    locale: Annotated[str, typer.Option(help="The reader's locale, e.g. nl or pt_BR.")] = "en",
    jurisdiction: Annotated[
        str | None, typer.Option(help="The reader's jurisdiction (ISO 3166), e.g. NL or US-CA.")
    ] = None,
    channel: Annotated[str, typer.Option(help="The channel whose notice to show.")] = "email",
    output: Annotated[Format, typer.Option("--format", help="Which part to show.")] = Format.text,
    name: Annotated[str, typer.Option(help="The reader's name.")] = "Alex Example",
) -> None:
    """Render one notice as a person in JURISDICTION reading LOCALE would receive it."""
    locale = normalize_locale(locale)
    if not LOCALE.match(locale):
        raise _fail(f"--locale: {locale!r} is invalid: not like `nl` or `pt_BR`")
    if jurisdiction is not None and not is_valid_jurisdiction(jurisdiction):
        raise _fail(f"--jurisdiction: {jurisdiction!r} is invalid: not an ISO 3166 code")
    if channel not in REGISTRY:
        raise _fail(f"--channel: {channel!r} is invalid: one of {sorted(REGISTRY)}")
    try:
        spec = parse_incident_spec(load_document(incident_file))
    except (DocumentError, InvalidInputs) as exc:
        typer.echo(f"{incident_file}: invalid incident", err=True)
        for problem in exc.errors if isinstance(exc, InvalidInputs) else [exc]:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from exc
    try:
        renderer = Renderer(
            templates_dir(), required_parts={channel: REGISTRY[channel].template_parts}
        )
        renderer.check([channel])
        composer = Composer(renderer, message_domain="preview.invalid")
    except ConfigError as exc:
        raise _fail(f"configuration error: {exc}") from exc
    country = country_of(jurisdiction) if jurisdiction else "ZZ"
    region = jurisdiction if jurisdiction and "-" in jurisdiction else None
    reader = Person(id="preview", name=name, locale=locale, country=country, region=region)
    incident = incident_row(spec)
    delivery = Delivery(
        f"{PREVIEW_ID}:preview:{channel}:1", 0, channel, incident, reader, reader,
        tuple(incident.categories), jurisdiction=jurisdiction,
    )  # fmt: skip
    problems = check_notice_content(spec, jurisdiction, locale)
    try:
        parts = composer.render(delivery)
    except MissingSection as exc:
        _report(problems)
        raise _fail(f"cannot be sent: {exc}", 1) from exc
    if output is Format.html and parts.html is None:
        raise _fail(f"--format: the {channel} channel has no html part")
    if output is Format.html:
        typer.echo(parts.html, nl=False)
    else:
        if parts.subject is not None:
            typer.echo(f"Subject: {parts.subject}\n")
        typer.echo(parts.text, nl=False)
    _report(problems)
    if any(p.kind in BLOCKING for p in problems):
        raise typer.Exit(1)
