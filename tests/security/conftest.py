"""The real HTTP app `serve` runs (incident.entrypoints.http_app) under uvicorn on loopback, in
a thread of the test process, over a real SQLite database: every attack goes over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from incident.adapters.db import create_schema, make_engine
from incident.domain.model import NoticeJob
from incident.entrypoints.http_app import create_app
from incident.settings import CallbackSettings, Settings

TWILIO_TOKEN = "security-test-auth-token"
SECRET = b"s" * 32


@dataclass
class Service:
    url: str
    port: int
    engine: Engine
    settings: Settings
    published: list[NoticeJob]


def settings_for(tmp_path: Path, **update: object) -> Settings:
    base = Settings(
        database_url=f"sqlite:///{tmp_path / 'breachnotice.db'}",
        channels={"sms": {"auth_token": TWILIO_TOKEN}},
        callbacks=CallbackSettings(),
        out_dir=tmp_path / "out",
    )
    return base.model_copy(update=update)


def serve(engine: Engine, settings: Settings, published: list[NoticeJob]) -> uvicorn.Server:
    app = create_app(engine, settings, published.append, secret=SECRET)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="security-http", daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    return server


def port_of(server: uvicorn.Server) -> int:
    sockets = server.servers[0].sockets
    return int(sockets[0].getsockname()[1])


Start = Callable[..., Service]


@pytest.fixture()
def start(tmp_path: Path) -> Iterator[Start]:
    """Starts the app with settings fields overridden (`start(confirmation=...)`)."""
    running: list[tuple[uvicorn.Server, Engine]] = []

    def started(**update: object) -> Service:
        settings = settings_for(tmp_path, **update)
        engine = make_engine(settings.database_url)
        create_schema(engine)
        published: list[NoticeJob] = []
        server = serve(engine, settings, published)
        running.append((server, engine))
        port = port_of(server)
        return Service(f"http://127.0.0.1:{port}", port, engine, settings, published)

    yield started
    for server, engine in running:
        server.should_exit = True
        engine.dispose()


@pytest.fixture()
def service(start: Start) -> Service:
    """The app with the Twilio routes and confirmation links, default settings."""
    return start()
