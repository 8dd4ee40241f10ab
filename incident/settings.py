"""Typed settings: `config/defaults.toml`, then an optional TOML file, then BREACHNOTICE_* env vars.

Nested fields use a double underscore: BREACHNOTICE_CHANNELS__EMAIL__HOST=relay.example.org.
Parsed once by the entrypoint and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from incident.errors import ConfigError


@lru_cache(maxsize=1)
def data_root() -> Path:
    """Where `templates/` and `config/` live: the checkout root, or package data in a wheel."""
    repo_root = Path(__file__).resolve().parent.parent
    if (repo_root / "config" / "defaults.toml").is_file():
        return repo_root
    packaged = Path(__file__).resolve().parent / "_data"
    if (packaged / "config" / "defaults.toml").is_file():
        return packaged
    raise ConfigError(str(repo_root / "config"), "-", "-", "config/defaults.toml not found")


def config_dir() -> Path:
    return data_root() / "config"


def templates_dir() -> Path:
    return data_root() / "templates"


class KafkaSettings(BaseModel):
    # Empty: start the local Kafka-protocol broker as a subprocess (embedded default).
    bootstrap_servers: str = ""
    incidents_topic: str = "incidents"
    notices_topic: str = "notices"
    retry_topic: str = "notices.retry"
    dead_topic: str = "notices.dead"
    # A stable name for this service instance (a pod or host name). Set, each consumer gets a
    # static group membership (KIP-345): a restarted worker takes its partitions back without a
    # group rebalance, and leaves the group only when its session times out.
    instance_id: str | None = None
    enricher_group: str = "enricher"
    dispatcher_group: str = "dispatcher"
    notices_partitions: int = 8
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 2000
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None


class DispatchSettings(BaseModel):
    batch_size: int = 500
    # On: each accepted message is recorded before its connection sends another, so a kill -9
    # resends at most one message per connection (not a batch); it costs throughput (README).
    record_each_message: bool = False
    # Tries of a notice that fails through our own defect (a rendering bug) before it is given
    # up on that channel. A recipient's "try later" retries until the horizon instead, and a
    # channel fault (relay down) spends no tries at all.
    max_tries: int = 5
    retry_base_seconds: float = 2.0
    retry_max_delay_seconds: float = 3600.0
    # A deferred recipient is retried until the earliest open individual-notice deadline of
    # their jurisdiction, and at least this long after the notice was created.
    retry_min_horizon_hours: float = 24.0
    # A `sending` claim older than this belongs to a worker presumed dead and is resent.
    claim_lease_seconds: float = 60.0
    # Pending notices untouched this long get their job published again (after a broker lost
    # its data, or a dispatcher died holding delayed jobs in memory).
    sweep_after_seconds: float = 120.0
    # A notice that fails the content check is held this long before it is looked at again.
    content_hold_seconds: float = 600.0
    breaker_base_cooldown_seconds: float = 2.0
    breaker_max_cooldown_seconds: float = 60.0
    fallback_chain: list[str] = Field(default_factory=lambda: ["email"])
    # Dispatcher processes sharing each provider account: every channel's configured
    # `rate_limit_per_second` is divided by this (set it to `serve --dispatchers N`'s N).
    processes: int = Field(default=1, ge=1)
    # A channel's token bucket holds this many seconds' worth of its rate (at least 1 message).
    rate_burst_seconds: float = Field(default=0.1, ge=0)
    # Escalation plans per severity; empty: config/routing.toml (none there: the fallback chain).
    routing_file: str = ""
    # An escalation timer due within this long also waits in the dispatcher's memory; later
    # ones are fired by the periodic sweep (within about `sweep_after_seconds` of their time).
    timer_memory_seconds: float = Field(default=900.0, ge=0)


class CallbackSettings(BaseModel):
    """Where `serve` listens for provider callbacks (Twilio status, keypress confirmations)."""

    host: str = "127.0.0.1"
    port: int | None = None  # None: no listener
    public_url: str | None = None  # the origin providers call, when a proxy stands in front
    # Request bodies over this are refused (413) before they are read; a Twilio callback is
    # a form of about 1 kB.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A form with more fields than this is refused (413) before its signature is checked.
    max_form_fields: int = Field(default=200, ge=10)
    # Failed lookups (forged tokens, bad signatures, unknown SIDs) a client may make at once,
    # then per minute, before it is answered 429 (confirmation links and Twilio callbacks).
    failed_lookups_burst: int = Field(default=20, ge=1)
    failed_lookups_per_minute: float = Field(default=10.0, ge=0)


class ConfirmationSettings(BaseModel):
    """Personal confirmation links in every notice (incident.service.confirmation)."""

    # HMAC key of the links (at least 32 characters), from the environment, the operator's file
    # or `secret_file`. Empty: only with --embedded, a random one kept in
    # out_dir/confirmation.secret; never printed (repr=False).
    secret: str = Field(default="", repr=False)
    secret_file: str = ""
    # The page a link opens: `{token}` is replaced, else the token is appended as a path.
    base_url: str = "http://127.0.0.1:8088/notices/confirm/{token}"
    # Where the link goes once it is confirmed (the organisation's notice page); `{incident}`
    # and `{token}` are filled in. Empty: a short page of our own says thank you.
    redirect_url: str = ""
    # A link confirms for this long after its notice was sent; then it answers 410 Gone.
    valid_days: float = Field(default=90.0, gt=0)


class DirectorySettings(BaseModel):
    """A live, read-only user directory read at enrichment time (empty `url`: none; the
    `person` table filled by `breachnotice people import` is the directory). `query`'s result
    columns are named by `column_map` (field -> column), fields as in `people import`."""

    url: str = ""
    query: str = ""
    column_map: dict[str, str] = Field(default_factory=dict)


class AlertOwner(BaseModel):
    """Someone who answers for the incident response: alerted before each deadline."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None  # E.164, for an sms or voice alert channel


class AlertSettings(BaseModel):
    """`[alerts]`: who is warned, and when, before an open legal deadline (and once when missed).

    `before_hours` are the points before each obligation's due time at which the owners are
    alerted; an empty `owners` list turns alerts off."""

    model_config = ConfigDict(extra="forbid")

    owners: list[AlertOwner] = Field(default_factory=list)
    before_hours: list[PositiveFloat] = Field(default_factory=lambda: [24.0, 6.0, 1.0])
    channel: str = "email"
    locale: str = "en"
    # A claimed alert whose send did not finish (a crashed worker) is resent after this.
    claim_lease_seconds: float = Field(default=60.0, gt=0)


class ApprovalSettings(BaseModel):
    """`[approval]`: nothing is sent to people until an approver who is not the reporter approves
    the incident. `waive` lists severities sent without that second person; every waiver is
    logged, recorded in the audit trail (`approval_waived`) and printed by the CLI."""

    model_config = ConfigDict(extra="forbid")

    waive: list[Literal["low", "medium", "high", "critical"]] = Field(default_factory=list)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BREACHNOTICE_", env_nested_delimiter="__", extra="forbid"
    )

    database_url: str = "sqlite:///./breachnotice.db"
    # Upgrade the schema at start. SQLite (the embedded default) always does; a shared
    # PostgreSQL is upgraded by `breachnotice db upgrade` unless this is set.
    database_auto_upgrade: bool = False
    sqlite_synchronous: str = "FULL"  # FULL: no commit lost on power loss; NORMAL: faster
    out_dir: Path = Path("./out")
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    log_library_level: str = "warning"  # kafka-python, aiosmtplib, SQLAlchemy
    default_locale: str = "en"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    # `[channels.<name>]`: each channel's own settings, validated by its registry entry's
    # settings model at start (BREACHNOTICE_CHANNELS__EMAIL__HOST=relay.example.org).
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    confirmation: ConfirmationSettings = Field(default_factory=ConfirmationSettings)
    minors: dict[str, int] = Field(default_factory=lambda: {"default": 18})
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)

    @model_validator(mode="after")
    def _secret_files(self) -> Settings:
        """`*_file` settings of secrets: the secret read from the file (a mounted secret)."""
        from incident.secrets_config import read_secret_file, resolve_channel_secret_files

        conf = self.confirmation
        if conf.secret_file and not conf.secret:
            conf.secret = read_secret_file("confirmation.secret_file", conf.secret_file)
        resolve_channel_secret_files(self.channels)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """defaults.toml merged with the file named by BREACHNOTICE_CONFIG or ./breachnotice.toml."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        merged = _read_toml(config_dir() / "defaults.toml")
        user_file = os.environ.get("BREACHNOTICE_CONFIG") or "breachnotice.toml"
        path = Path(user_file)
        if path.is_file():
            _deep_merge(merged, _read_toml(path))
        elif "BREACHNOTICE_CONFIG" in os.environ:
            raise ConfigError(user_file, "-", "-", "file named by BREACHNOTICE_CONFIG not found")
        return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", "-", f"not valid TOML: {exc}") from exc


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
