"""Who a filed report goes to besides an authority: the nationwide consumer reporting agencies
(`config/credit_bureaus.toml`) and, for a processor, the controller named in the incident.

The agencies' names and addresses are data: a deployment points BREACHNOTICE_CREDIT_BUREAUS_FILE
at its own file. Every problem in the file is a `ConfigError` naming file, entry and field.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from incident.errors import ConfigError
from incident.settings import config_dir

CREDIT_BUREAUS_FILE = "credit_bureaus.toml"
ENV_FILE = "BREACHNOTICE_CREDIT_BUREAUS_FILE"


class Addressee(BaseModel):
    """One organisation a report is addressed to, with how to reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=2, max_length=200)
    postal_address: str | None = Field(default=None, min_length=5, max_length=500)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, min_length=5, max_length=40)
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}


def credit_bureaus_path() -> Path:
    return Path(os.environ.get(ENV_FILE) or config_dir() / CREDIT_BUREAUS_FILE)


def credit_bureaus() -> tuple[Addressee, ...]:
    """The agencies every credit-bureau report is addressed to (the configured file)."""
    return load_credit_bureaus(credit_bureaus_path())


@lru_cache(maxsize=4)
def load_credit_bureaus(path: Path) -> tuple[Addressee, ...]:
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(name, "-", "-", f"cannot be read: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(name, "-", "-", f"not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"agency"})
    if unknown:
        raise ConfigError(name, unknown[0], "-", "unknown section; use [[agency]]")
    entries = data.get("agency")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(name, "agency", "-", "no [[agency]] entries")
    agencies = tuple(_agency(name, i, entry) for i, entry in enumerate(entries))
    ids = [a.id for a in agencies]
    for agency in agencies:
        if ids.count(agency.id) > 1:
            raise ConfigError(name, agency.id, "id", "duplicate agency id")
        if not (agency.postal_address or agency.email or agency.url):
            raise ConfigError(name, agency.id, "-", "needs a postal_address, email or url")
    return agencies


def _agency(file: str, index: int, entry: Any) -> Addressee:
    label = str(entry.get("id", f"agency #{index + 1}")) if isinstance(entry, dict) else "-"
    try:
        return Addressee.model_validate(entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "-"
        raise ConfigError(file, label, field, err["msg"]) from exc
