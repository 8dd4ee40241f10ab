"""Regulator reports: file a report (JSON + PDF) in an export folder an operator submits from.

The message carries the report in `parts`: `report.json` (the document, already checked
against its schema), `name` (the file stem, `<rule>-<jurisdiction>/v<n>-<phase>`) and `missing`
(report items still lacking, comma-separated). A report with missing items is never filed: the
channel answers "try later" naming them, so the notice stays pending until they are given.

Layout: `<export_dir>/<incident>/<name>.json` and `.pdf`, never overwritten by a later version,
and `<incident>/manifest.json` listing every filed version with its sha256. Filing is
idempotent per idempotency key. Emailing the authority is a later option.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from channels.announcement import FolderPublisher, Publisher
from channels.base import (
    BuildContext,
    Channel,
    ChannelSettings,
    ChannelSpec,
    ContactKind,
    Receipt,
    RenderedMessage,
)
from channels.errors import ChannelFault, MessageRejected, RecipientDeferred, RecipientRejected

_NAME = "regulator"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_CJK_FONT = "STSong-Light"  # a built-in CID font: Chinese, Japanese kana/kanji and Latin


class RegulatorSettings(ChannelSettings):
    """`[channels.regulator]`; an empty export_dir files reports under `<out_dir>/reports`."""

    export_dir: str = ""


class RegulatorChannel(Channel):
    name = _NAME
    contact_kind = ContactKind.AUTHORITY

    def __init__(self, *, publisher: Publisher) -> None:
        self._publisher = publisher

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        ref = msg.headers.get("X-Incident-Ref", "")
        name = msg.parts.get("name", "")
        document = msg.parts.get("report.json")
        if not _SAFE_NAME.match(ref) or not _SAFE_NAME.match(name) or ".." in name + ref:
            raise RecipientRejected(_NAME, f"no usable incident or report name: {ref!r} {name!r}")
        if document is None:
            raise MessageRejected(_NAME, "no report.json part: nothing to file")
        if missing := [m for m in msg.parts.get("missing", "").split(",") if m]:
            raise RecipientDeferred(_NAME, f"report incomplete, missing: {', '.join(missing)}")
        try:
            parsed = json.loads(document)
        except ValueError as exc:
            raise MessageRejected(_NAME, f"report.json is not JSON: {exc}") from exc
        try:
            manifest = self._manifest(ref)
            if any(f["idempotency_key"] == msg.idempotency_key for f in manifest["filed"]):
                return _receipt(msg, ref, name)
            data = document.encode()
            pdf = render_pdf(parsed)
            self._publisher.write(f"{ref}/{name}.json", data)
            self._publisher.write(f"{ref}/{name}.pdf", pdf)
            manifest["filed"].append(
                {
                    "name": name,
                    "idempotency_key": msg.idempotency_key,
                    "filed_at": datetime.now(UTC).isoformat(),
                    "supersedes": parsed.get("supersedes"),
                    "sha256": {
                        "json": hashlib.sha256(data).hexdigest(),
                        "pdf": hashlib.sha256(pdf).hexdigest(),
                    },
                }
            )
            body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            self._publisher.write(f"{ref}/manifest.json", body)
        except OSError as exc:
            raise ChannelFault(_NAME, f"export folder cannot be written: {exc}") from exc
        return _receipt(msg, ref, name)

    def _manifest(self, ref: str) -> dict[str, Any]:
        raw = self._publisher.read(f"{ref}/manifest.json")
        if raw is None:
            return {"incident": ref, "filed": []}
        try:
            data: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            raise ChannelFault(_NAME, f"{ref}/manifest.json is not valid JSON: {exc}") from exc
        return data


def _receipt(msg: RenderedMessage, ref: str, name: str) -> Receipt:
    return Receipt(
        channel=_NAME,
        idempotency_key=msg.idempotency_key,
        provider_id=f"{ref}/{name}",
        accepted_at=datetime.now(UTC),
    )


def _lines(value: Any, label: str = "") -> list[tuple[str, str]]:
    """The document flattened to (label, text) rows, in its own order."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _lines(v, f"{label}.{k}".strip("."))]
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return [(label, ", ".join(str(v) for v in value))]
        return [row for i, v in enumerate(value) for row in _lines(v, f"{label}[{i + 1}]")]
    return [(label, "" if value is None else str(value))]


def render_pdf(document: dict[str, Any]) -> bytes:
    """A readable PDF of the report: a title, then every field with its label."""
    text = json.dumps(document, ensure_ascii=False)
    styles = getSampleStyleSheet()
    body, head = styles["BodyText"], styles["Heading1"]
    if any(ord(ch) > 0xFF for ch in text):
        if _CJK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))
        body.fontName = head.fontName = _CJK_FONT
    out = io.BytesIO()
    title = f"{document.get('report_kind', 'report')} — {document.get('incident_ref', '')}"
    story: list[Any] = [Paragraph(escape(title), head), Spacer(1, 8)]
    for label, value in _lines(document):
        story.append(Paragraph(f"<b>{escape(label)}</b>: {escape(value)}", body))
    doc = SimpleDocTemplate(out, pagesize=A4, title=title, invariant=True)
    doc.build(story)
    return out.getvalue()


def build_regulator(settings: RegulatorSettings, ctx: BuildContext) -> RegulatorChannel:
    root = Path(settings.export_dir) if settings.export_dir else ctx.out_dir / "reports"
    return RegulatorChannel(publisher=FolderPublisher(root))


SPEC = ChannelSpec(
    name=_NAME,
    settings_model=RegulatorSettings,
    factory=build_regulator,
    contact_kinds=(ContactKind.AUTHORITY,),
    template_parts=("text",),
)
