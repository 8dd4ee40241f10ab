"""Regulator reports, filed into a real export folder."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from channels.base import BuildContext, ContactPointData, RenderedMessage
from channels.regulator import RegulatorSettings, build_regulator
from tests.contract.cases import ChannelCase, Peer, message_for

REPORT = json.dumps({"kind": "gdpr-art33", "incident": "INC-1", "items": {"nature": "x"}})


def _message(point: ContactPointData, key: str) -> RenderedMessage:
    return replace(
        message_for(point, key),
        headers={"X-Incident-Ref": "INC-1"},
        parts={"name": point.value, "report.json": REPORT},
    )


@asynccontextmanager
async def _peer() -> AsyncIterator[Peer]:
    root = Path(tempfile.mkdtemp(prefix="bn-reports-"))
    channel = build_regulator(
        RegulatorSettings(export_dir=str(root)), BuildContext(root, "example.org")
    )

    def received() -> list[str]:
        manifest = root / "INC-1" / "manifest.json"
        if not manifest.exists():
            return []
        return [f["idempotency_key"] for f in json.loads(manifest.read_text())["filed"]]

    @asynccontextmanager
    async def take_down() -> AsyncIterator[None]:
        shutil.rmtree(root)
        root.write_text("not a folder")
        yield

    try:
        yield Peer(channel, received, take_down)
    finally:
        if root.is_file():
            root.unlink()
        shutil.rmtree(root, ignore_errors=True)


CASE = ChannelCase(
    name="regulator",
    good=ContactPointData("authority", "nl-ap-v1-initial"),
    refused=ContactPointData("authority", "../escape"),
    peer=_peer,
    secret=lambda point: "\\u0000never-logged",
    message=_message,
)
