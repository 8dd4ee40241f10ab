"""The HTTP listener `serve` runs when `[callbacks] port` is set: the ASGI app of
incident.entrypoints.http_app (Twilio callbacks, confirmation links) under uvicorn, in a thread
of its own. A returned delivery's job is queued through the outbox with its receipt, so the person
moves on to their next channel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog
import uvicorn

from incident.bootstrap import Runtime
from incident.entrypoints.http_app import create_app
from incident.errors import ConfigError

log = structlog.get_logger()
START_TIMEOUT = 10.0


def start_callback_server(rt: Runtime) -> Callable[[], None] | None:
    """Start the listener; returns its stopper (None when off). Raises ConfigError when the
    port cannot be bound."""
    cfg = rt.settings.callbacks
    if cfg.port is None:
        return None
    app = create_app(rt.engine, rt.settings)
    config = uvicorn.Config(
        app, host=cfg.host, port=cfg.port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="callbacks", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        thread.join(START_TIMEOUT)
        raise ConfigError("settings", "callbacks.port", str(cfg.port), "could not listen there")
    log.info("callbacks_listening", host=cfg.host, port=cfg.port)

    def stop() -> None:
        server.should_exit = True
        thread.join(START_TIMEOUT)

    return stop
