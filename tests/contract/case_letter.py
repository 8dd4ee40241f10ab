"""Letters against their real peer, the print house's drop folder: each PDF is opened with
poppler and must list in a manifest; taking the peer down puts a regular file where the folder
was (root ignores permission bits), so nothing can be written under it."""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from channels.base import BuildContext, ContactPointData
from channels.letter import MANIFEST, LetterSettings, build_letter
from tests.contract.cases import ChannelCase, Peer


def _postal(**fields: str) -> ContactPointData:
    return ContactPointData("postal", "\n".join(fields.values()), fields, fields["country"])


def _received(drop: Path) -> list[str]:
    """Letter ids of every manifest row whose PDF poppler can read, oldest run first."""
    ids = []
    for manifest in sorted(drop.glob(f"*/{MANIFEST}"), key=lambda p: p.stat().st_mtime_ns):
        with manifest.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                pdf = manifest.parent / row["file"]
                subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True)
                ids.append(row["letter_id"])
    return ids


@asynccontextmanager
async def _peer() -> AsyncIterator[Peer]:
    root = Path(tempfile.mkdtemp(prefix="letters-"))
    drop = root / "drop"
    # One letter per print run: a resend lands in a run of its own, under the same letter id.
    settings = LetterSettings(drop_folder=str(drop), batch_max_letters=1)
    channel = build_letter(settings, BuildContext(root, "example.org"))

    @asynccontextmanager
    async def take_down() -> AsyncIterator[None]:
        if drop.exists():
            drop.rename(root / "gone")
        drop.write_text("not a folder")
        yield

    try:
        yield Peer(channel, lambda: _received(drop), take_down)
    finally:
        await channel.aclose()
        shutil.rmtree(root, ignore_errors=True)


CASE = ChannelCase(
    name="letter",
    good=_postal(street="Unter den Linden 1", postal_code="10117", city="Berlin", country="DE"),
    refused=_postal(street="Damrak 1", postal_code="12", city="Amsterdam", country="NL"),
    peer=_peer,
)
