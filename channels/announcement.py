"""Public announcement: a static notice site per incident, published to a web root.

The message arrives fully rendered: `parts` maps relative file names (`en/index.html`,
`en/feed.atom`, `notice.json`...) to their content; a message without parts publishes its
`body_html` (or text) for its one locale. The incident is named by the `X-Incident-Ref` header.

Layout under the web root, so confirmation and SMS links land on `/notices/<incident>/<locale>/`:

    notices/<incident>/v<n>/<file>        every published version, kept for good
    notices/<incident>/<file>             the latest copy of each file
    notices/<incident>/manifest.json      every version: key, time, files with their sha256

Publishing is idempotent per idempotency key: a resend after a crash finds its version in the
manifest and publishes nothing new. Updates append a version; nothing published is erased.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from channels.base import (
    BuildContext,
    Channel,
    ChannelSettings,
    ChannelSpec,
    ContactKind,
    Receipt,
    RenderedMessage,
)
from channels.errors import ChannelFault, MessageRejected, RecipientRejected
from channels.safe_files import ID_RE, inside

_NAME = "announcement"
# Relative names whose segments never start with a dot: no "..", no hidden files.
_SAFE_PART = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
_SAFE_REF = ID_RE  # one path component, never `..` (channels/safe_files.py)
MANIFEST = "manifest.json"


class Publisher(Protocol):
    """Where the site's files go: a folder today, object storage later."""

    def read(self, path: str) -> bytes | None: ...

    def write(self, path: str, data: bytes) -> None: ...


class FolderPublisher:
    """A web root on the local file system; each file is replaced atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def read(self, path: str) -> bytes | None:
        target = inside(self.root, path)
        return target.read_bytes() if target.is_file() else None

    def write(self, path: str, data: bytes) -> None:
        target = inside(self.root, path)  # names come from outside data: stay in the root
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class AnnouncementSettings(ChannelSettings):
    """`[channels.announcement]`; an empty web_root publishes under `<out_dir>/public`."""

    web_root: str = ""
    base_url: str = "/"  # where the web root is served: links in feeds and JSON use it


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AnnouncementChannel(Channel):
    name = _NAME
    contact_kind = ContactKind.PUBLIC

    def __init__(self, *, publisher: Publisher, base_url: str = "/") -> None:
        self._publisher = publisher
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"

    async def deliver(self, msg: RenderedMessage) -> Receipt:
        ref = msg.headers.get("X-Incident-Ref", "")
        if not _SAFE_REF.fullmatch(ref):
            raise RecipientRejected(_NAME, f"no usable X-Incident-Ref header: {ref[:40]!r}")
        files = _files(msg)
        folder = f"notices/{ref}"
        try:
            manifest = self._manifest(folder, ref)
            done = [v for v in manifest["versions"] if v["idempotency_key"] == msg.idempotency_key]
            if done:  # a resend: this version is already out
                return self._receipt(msg, folder, done[0]["version"])
            version = len(manifest["versions"]) + 1
            hashes = {}
            for name, data in files.items():
                self._publisher.write(f"{folder}/v{version}/{name}", data)
                hashes[name] = _sha256(data)
            for name, data in files.items():
                self._publisher.write(f"{folder}/{name}", data)
            manifest["versions"].append(
                {
                    "version": version,
                    "idempotency_key": msg.idempotency_key,
                    "published_at": datetime.now(UTC).isoformat(),
                    "files": hashes,
                }
            )
            manifest["latest"] = version
            body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            self._publisher.write(f"{folder}/{MANIFEST}", body)
        except OSError as exc:
            raise ChannelFault(_NAME, f"web root cannot be written: {exc}") from exc
        return self._receipt(msg, folder, version)

    def _manifest(self, folder: str, ref: str) -> dict[str, Any]:
        raw = self._publisher.read(f"{folder}/{MANIFEST}")
        if raw is None:
            return {"incident": ref, "base_url": self._base_url, "latest": 0, "versions": []}
        try:
            data: dict[str, Any] = json.loads(raw)
        except ValueError as exc:  # never overwrite a history we cannot read
            raise ChannelFault(_NAME, f"{folder}/{MANIFEST} is not valid JSON: {exc}") from exc
        return data

    def _receipt(self, msg: RenderedMessage, folder: str, version: int) -> Receipt:
        return Receipt(
            channel=_NAME,
            idempotency_key=msg.idempotency_key,
            provider_id=f"{self._base_url}{folder}/v{version}/",
            accepted_at=datetime.now(UTC),
        )


def _files(msg: RenderedMessage) -> dict[str, bytes]:
    if not msg.parts:
        locale = msg.locale if _SAFE_REF.match(msg.locale) else "en"
        page = msg.body_html if msg.body_html is not None else msg.body_text
        return {
            f"{locale}/index.html": page.encode(),
            f"{locale}/notice.txt": msg.body_text.encode(),
        }
    out: dict[str, bytes] = {}
    for name, text in msg.parts.items():
        if not _SAFE_PART.match(name) or ".." in name or name == MANIFEST:
            raise MessageRejected(_NAME, f"not a publishable file name: {name[:60]!r}")
        out[name] = text.encode()
    return out


def build_announcement(settings: AnnouncementSettings, ctx: BuildContext) -> AnnouncementChannel:
    root = Path(settings.web_root) if settings.web_root else ctx.out_dir / "public"
    return AnnouncementChannel(publisher=FolderPublisher(root), base_url=settings.base_url)


SPEC = ChannelSpec(
    name=_NAME,
    settings_model=AnnouncementSettings,
    factory=build_announcement,
    contact_kinds=(ContactKind.PUBLIC,),
    template_parts=("subject", "text", "html"),
)
