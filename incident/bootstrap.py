"""Wire the service from settings: database, queue, channels, renderer. The embedded default
starts a local broker and local stand-ins for channels (an SMTP server writing a Maildir...)
when no real ones are configured. Channels are built from the registry, as data."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from channels import REGISTRY
from channels.base import BuildContext, Channel, ChannelSettings, ChannelSpec, ContactCheck
from incident.adapters.db import ensure_schema_current, make_engine
from incident.adapters.kafka_bus import ensure_topics, probe_servers
from incident.adapters.local_broker import LocalBroker
from incident.errors import ConfigError
from incident.obligations import load_rules
from incident.rendering import Renderer
from incident.secrets_config import MIN_SECRET_CHARS, from_defaults
from incident.service.compose import Composer
from incident.service.confirmation import link_for, secret_of
from incident.service.dispatch import load_routing
from incident.service.keyed_ids import message_key_of
from incident.settings import Settings, _read_toml, config_dir, templates_dir

log = structlog.get_logger()


@dataclass
class Runtime:
    """Everything a worker needs; `close()` stops what the embedded default started."""

    settings: Settings
    engine: Engine
    bootstrap_servers: str
    # Each routed channel's validated settings, pointing at local stand-ins where embedded.
    channel_settings: dict[str, ChannelSettings] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        self._stack.close()
        self.engine.dispose()


def start_runtime(settings: Settings, *, embedded_ok: bool = True) -> Runtime:
    settings = with_secrets(settings, embedded_ok=embedded_ok)
    load_rules()  # a malformed rules file fails here, naming file, entry and field
    load_routing(settings.dispatch)  # and so does a malformed routing (escalation) file
    channel_settings = resolve_channel_settings(settings)  # bad channel config fails first
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    ensure_schema_current(
        engine, auto_upgrade=settings.database_auto_upgrade or engine.dialect.name == "sqlite"
    )
    stack = ExitStack()
    servers = settings.kafka.bootstrap_servers
    if not servers:
        _require_embedded(embedded_ok, "kafka.bootstrap_servers")
        broker = stack.enter_context(LocalBroker())
        servers = broker.bootstrap_servers
        log.info("local_broker_started", bootstrap_servers=servers)
    else:
        probe_servers(servers)  # an unreachable cluster: one line in seconds, not 30 s of retries
    kafka = settings.kafka
    ensure_topics(
        kafka,
        servers,
        {
            kafka.incidents_topic: 1,
            kafka.notices_topic: kafka.notices_partitions,
            kafka.retry_topic: kafka.notices_partitions,
            kafka.dead_topic: 1,
        },
    )
    ctx = build_context(settings, embedded_ok=embedded_ok, stack=stack)
    for name, cfg in channel_settings.items():
        spec = REGISTRY[name]
        if spec.needs_provider(cfg):
            if spec.embedded is None:
                raise ConfigError(
                    "settings",
                    f"channels.{name}",
                    "-",
                    "names no provider and the channel has no local stand-in",
                )
            _require_embedded(embedded_ok, f"channels.{name}")
            channel_settings[name] = spec.embedded(cfg, ctx)
            log.info("local_channel_started", channel=name, out_dir=str(settings.out_dir))
    return Runtime(settings, engine, servers, channel_settings, stack)


def with_secrets(settings: Settings, *, embedded_ok: bool) -> Settings:
    """`settings` with the confirmation secret resolved (checked, and made under out_dir for
    the embedded default only), so every worker and child process signs with the same one.
    Outside --embedded no secret may be missing or come from config/defaults.toml."""
    if not embedded_ok:
        shipped = from_defaults(_read_toml(config_dir() / "defaults.toml"), settings.channels)
        if shipped:
            raise ConfigError(
                "settings", shipped[0], "-", "a secret may not come from config/defaults.toml"
            )
        if not settings.confirmation.secret:
            raise ConfigError(
                "settings",
                "confirmation.secret",
                "-",
                "is empty; outside --embedded set BREACHNOTICE_CONFIRMATION__SECRET or "
                f"confirmation.secret_file (at least {MIN_SECRET_CHARS} characters)",
            )
    secret = secret_of(settings).decode()
    confirmation = settings.confirmation.model_copy(update={"secret": secret})
    return settings.model_copy(update={"confirmation": confirmation})


# Channels of the addressees that are not people: the public (announcement) and authorities.
ADDRESSEE_CHANNELS = ("announcement", "regulator")


def routed_channels(settings: Settings) -> list[str]:
    """Every channel the routing can send to: the people's fallback chain, and the channels of
    the public and authority addressees."""
    return list(dict.fromkeys([*settings.dispatch.fallback_chain, *ADDRESSEE_CHANNELS]))


def resolve_channel_settings(settings: Settings) -> dict[str, ChannelSettings]:
    """Validate `[channels.<name>]` of every routed channel against its registry entry.
    An unknown channel, or settings its model refuses, stops the start with the reason."""
    for name in settings.channels:
        if name not in REGISTRY:
            raise ConfigError(
                "settings",
                f"channels.{name}",
                "-",
                f"no such channel; available: {sorted(REGISTRY)}",
            )
    return {name: _validated(_spec(name), settings) for name in routed_channels(settings)}


def _validated(spec: ChannelSpec, settings: Settings) -> ChannelSettings:
    try:
        return spec.settings_model.model_validate(settings.channels.get(spec.name, {}))
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError("settings", f"channels.{spec.name}", "-", problem) from exc


def _check_of(spec: ChannelSpec, settings: Settings) -> ContactCheck:
    """The channel's contact check as its settings make it (the push allow-list)."""
    return spec.check if spec.checker is None else spec.checker(_validated(spec, settings))


def _spec(name: str) -> ChannelSpec:
    spec = REGISTRY.get(name)
    if spec is None:
        raise ConfigError(
            "settings",
            "dispatch.fallback_chain",
            name,
            f"no such channel; available: {sorted(REGISTRY)}",
        )
    return spec


def _require_embedded(allowed: bool, setting: str) -> None:
    if not allowed:
        raise ConfigError(
            "settings",
            setting,
            setting,
            "is empty; `serve` needs a real server (the embedded default is for "
            "`demo`), or pass --embedded",
        )


def message_domain(settings: Settings) -> str:
    sender = str(settings.channels.get("email", {}).get("sender", ""))
    return parseaddr(sender)[1].rpartition("@")[2] or "breachnotice.local"


def build_context(
    settings: Settings, *, embedded_ok: bool = True, stack: ExitStack | None = None
) -> BuildContext:
    on_close: Any = stack.callback if stack is not None else (lambda _cb: None)
    return BuildContext(settings.out_dir, message_domain(settings), embedded_ok, on_close)


def build_channels(runtime: Runtime) -> dict[str, Channel]:
    """One instance per routed channel; one that cannot be built stops the start, named."""
    ctx = build_context(runtime.settings, stack=runtime._stack)
    built: dict[str, Channel] = {}
    for name, cfg in runtime.channel_settings.items():
        try:
            built[name] = REGISTRY[name].factory(cfg, ctx)
        except (ValueError, TypeError, OSError) as exc:
            raise ConfigError(
                "settings", f"channels.{name}", "-", f"channel cannot be built: {exc}"
            ) from exc
    return built


def contact_checks(settings: Settings) -> dict[str, ContactCheck]:
    """Contact-point checks of the channels that reach people, keyed by contact kind."""
    return {
        kind: _check_of(_spec(name), settings)
        for name in dict.fromkeys(settings.dispatch.fallback_chain)
        for kind in _spec(name).contact_kinds
    }


def directory_checks(settings: Settings) -> dict[str, ContactCheck]:
    """Every registered channel's check, by contact kind: `people import` records each point's
    verdict whatever the routing is today (a phone is checked even while only email is used)."""
    return {
        kind: _check_of(spec, settings) for spec in REGISTRY.values() for kind in spec.contact_kinds
    }


def channel_kinds(channels: Mapping[str, Channel]) -> dict[str, tuple[str, ...]]:
    return {
        name: REGISTRY[name].contact_kinds if name in REGISTRY else (ch.contact_kind,)
        for name, ch in channels.items()
    }


def build_composer(settings: Settings, engine: Engine | None = None) -> Composer:
    """The one composer of the service: every person's notice carries its personal
    confirmation link; with `engine`, it also composes the public notice and the reports."""
    routed = routed_channels(settings)
    renderer = Renderer(
        templates_dir(),
        default_locale=settings.default_locale,
        required_parts={name: _spec(name).template_parts for name in routed},
    )
    renderer.check(routed)
    secret, base_url = secret_of(settings), settings.confirmation.base_url

    def confirm_link(key: str) -> str:
        return link_for(key, secret=secret, base_url=base_url)

    if engine is None:
        return Composer(
            renderer,
            message_domain=message_domain(settings),
            message_key=message_key_of(secret),
            confirm_link=confirm_link,
        )
    from incident.service.publication import PublicationComposer

    return PublicationComposer(
        renderer,
        message_domain=message_domain(settings),
        message_key=message_key_of(secret),
        engine=engine,
        confirm_link=confirm_link,
    )
