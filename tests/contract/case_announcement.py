"""The public notice site, published into a real folder (the web root)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from channels.announcement import AnnouncementSettings, build_announcement
from channels.base import BuildContext, ContactPointData, RenderedMessage
from tests.contract.cases import ChannelCase, Peer, message_for


def _message(point: ContactPointData, key: str) -> RenderedMessage:
    # The contact point's value stands for the incident the page is about.
    return replace(message_for(point, key), headers={"X-Incident-Ref": point.value})


@asynccontextmanager
async def _peer() -> AsyncIterator[Peer]:
    root = Path(tempfile.mkdtemp(prefix="bn-public-"))
    channel = build_announcement(
        AnnouncementSettings(web_root=str(root)), BuildContext(root, "example.org")
    )

    def received() -> list[str]:
        manifest = root / "notices" / "INC-1" / "manifest.json"
        if not manifest.exists():
            return []
        return [v["idempotency_key"] for v in json.loads(manifest.read_text())["versions"]]

    @asynccontextmanager
    async def take_down() -> AsyncIterator[None]:
        shutil.rmtree(root)
        root.write_text("not a folder")  # every write under it fails, even as root
        yield

    try:
        yield Peer(channel, received, take_down)
    finally:
        if root.is_file():
            root.unlink()
        shutil.rmtree(root, ignore_errors=True)


CASE = ChannelCase(
    name="announcement",
    good=ContactPointData("public", "INC-1"),
    refused=ContactPointData("public", "../../etc"),
    peer=_peer,
    secret=lambda point: "\\u0000never-logged",
    message=_message,
)
