"""Secrets in the settings: where they may come from, and the shared embedded one.

Every secret (the confirmation links' HMAC key, the SMTP password, Twilio's auth token, the VAPID
private key) comes from the environment (`BREACHNOTICE_…`), the operator's TOML file, or a file
named by `<setting>_file` (a mounted secret): `confirmation.secret_file`,
`channels.email.password_file`, `channels.sms.auth_token_file`, `channels.voice.auth_token_file`,
`channels.push.vapid_private_key_file`. Never from `config/defaults.toml`, and the confirmation
secret is generated only for `--embedded` (under out_dir, shared by every process). A secret is
never printed: errors name the setting, not the value.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from incident.errors import ConfigError

MIN_SECRET_CHARS = 32
# channel -> its secret settings
CHANNEL_SECRETS: Mapping[str, tuple[str, ...]] = {
    "email": ("password",),
    "sms": ("auth_token",),
    "voice": ("auth_token",),
    "push": ("vapid_private_key",),
}


def read_secret_file(setting: str, path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"secret file cannot be read: {type(exc).__name__}"
        raise ConfigError(path, setting, "-", reason) from None
    if not value:
        raise ConfigError(path, setting, "-", "secret file is empty")
    return value


def resolve_channel_secret_files(channels: MutableMapping[str, dict[str, Any]]) -> None:
    """`<secret>_file` in a channel's table: the secret read from that file."""
    for name, names in CHANNEL_SECRETS.items():
        table = channels.get(name)
        for secret in names:
            if table is not None and (path := table.pop(f"{secret}_file", None)):
                table[secret] = read_secret_file(f"channels.{name}.{secret}_file", str(path))


def from_defaults(defaults: Mapping[str, Any], settings_channels: Mapping[str, Any]) -> list[str]:
    """The secret settings whose value is the one in config/defaults.toml (set there)."""
    found = []
    for name, names in CHANNEL_SECRETS.items():
        shipped = defaults.get("channels", {}).get(name, {})
        for secret in names:
            value = settings_channels.get(name, {}).get(secret)
            if value and shipped.get(secret) and str(value) == str(shipped[secret]):
                found.append(f"channels.{name}.{secret}")
    shipped = defaults.get("confirmation", {}).get("secret")
    return found + (["confirmation.secret"] if shipped else [])


def checked(value: str, setting: str) -> bytes:
    """`value` as a signing key; a ConfigError naming `setting` when empty or short."""
    if not value:
        raise ConfigError("settings", setting, "-", "is empty")
    if len(value) < MIN_SECRET_CHARS:
        raise ConfigError(
            "settings", setting, "-", f"is shorter than {MIN_SECRET_CHARS} characters"
        )
    return value.encode()


def shared_secret(path: Path, *, wait: float = 10.0) -> str:
    """The secret in `path`, made once by whichever process comes first.

    A new secret is written to a temporary file, flushed, and hard-linked to `path`: the link
    is atomic and never replaces, so `path` appears complete or not at all, and every process
    (the losers of a race included) reads the winner's secret back."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            if time.monotonic() > deadline:
                reason = "could not be made"
                raise ConfigError(str(path), "confirmation.secret", "-", reason) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: read theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
