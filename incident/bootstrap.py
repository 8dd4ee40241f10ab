"""Wire the service from settings: database, queue, channels, renderer. The embedded default
starts a local broker and a local SMTP server when no real ones are configured."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

import structlog
from sqlalchemy.engine import Engine

from channels import CHANNELS
from channels.base import Channel
from channels.email import EmailChannel
from incident.adapters.db import create_schema, make_engine
from incident.adapters.kafka_bus import ensure_topics
from incident.adapters.local_broker import LocalBroker
from incident.adapters.local_smtp import LocalMaildirServer
from incident.domain.audience import ContactCheck
from incident.errors import ConfigError
from incident.obligations import load_rules
from incident.rendering import Renderer
from incident.service.compose import Composer
from incident.settings import Settings, SmtpSettings, templates_dir

log = structlog.get_logger()


@dataclass
class Runtime:
    """Everything a worker needs; `close()` stops what the embedded default started."""

    settings: Settings
    engine: Engine
    bootstrap_servers: str
    smtp: SmtpSettings
    maildir: Path | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        self._stack.close()
        self.engine.dispose()


def start_runtime(settings: Settings, *, embedded_ok: bool = True) -> Runtime:
    load_rules()  # a malformed rules file fails here, naming file, entry and field
    engine = make_engine(settings.database_url)
    create_schema(engine)
    stack = ExitStack()
    servers = settings.kafka.bootstrap_servers
    if not servers:
        _require_embedded(embedded_ok, "kafka.bootstrap_servers")
        broker = stack.enter_context(LocalBroker())
        servers = broker.bootstrap_servers
        log.info("local_broker_started", bootstrap_servers=servers)
    ensure_topics(
        settings.kafka,
        servers,
        {
            settings.kafka.incidents_topic: 1,
            settings.kafka.notices_topic: settings.kafka.notices_partitions,
            settings.kafka.retry_topic: settings.kafka.notices_partitions,
            settings.kafka.dead_topic: 1,
        },
    )
    smtp, maildir = settings.smtp, None
    if not smtp.host:
        _require_embedded(embedded_ok, "smtp.host")
        maildir = settings.out_dir / "mail"
        server = LocalMaildirServer(maildir)
        server.start()
        stack.callback(server.stop)
        smtp = smtp.model_copy(
            update={
                "host": server.host,
                "port": server.port,
                "start_tls": False,
                "username": None,
                "password": None,
            }
        )
        log.info("local_smtp_started", port=server.port, maildir=str(maildir))
    return Runtime(settings, engine, servers, smtp, maildir, stack)


def _require_embedded(allowed: bool, setting: str) -> None:
    if not allowed:
        raise ConfigError(
            "settings",
            setting,
            setting,
            "is empty; `serve` needs a real server (the embedded default is for "
            "`demo`), or pass --embedded",
        )


def build_channels(runtime: Runtime) -> dict[str, Channel]:
    """One instance per channel named in the fallback chain and present in the registry."""
    built: dict[str, Channel] = {}
    for name in runtime.settings.dispatch.fallback_chain:
        if name not in CHANNELS:
            raise ConfigError(
                "settings",
                "dispatch.fallback_chain",
                name,
                f"no such channel; available: {sorted(CHANNELS)}",
            )
        if name == "email":
            built[name] = email_channel(runtime.smtp)
    return built


def email_channel(smtp: SmtpSettings) -> EmailChannel:
    return EmailChannel(
        hostname=smtp.host,
        port=smtp.port,
        sender=smtp.sender,
        username=smtp.username,
        password=smtp.password,
        start_tls=smtp.start_tls,
        use_tls=smtp.use_tls,
        validate_certs=smtp.validate_certs,
        ca_file=smtp.ca_file,
        timeout=smtp.timeout,
        pool_size=smtp.pool_size,
    )


def contact_checks(settings: Settings) -> dict[str, ContactCheck]:
    """Contact-point checks of the channels in use, keyed by the contact kind they need."""
    return {
        CHANNELS[name].contact_kind: CHANNELS[name].recipient_problem
        for name in settings.dispatch.fallback_chain
        if name in CHANNELS
    }


def build_composer(settings: Settings) -> Composer:
    renderer = Renderer(templates_dir(), default_locale=settings.default_locale)
    renderer.check(list(settings.dispatch.fallback_chain))
    domain = parseaddr(settings.smtp.sender)[1].rpartition("@")[2] or "breachnotice.local"
    return Composer(renderer, message_domain=domain)
