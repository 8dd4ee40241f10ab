"""The provider-callback listener `serve` runs when `[callbacks] port` is set: Twilio's status
and keypress callbacks become stored receipts; a returned delivery's job is published so the
person moves on to their next channel."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import structlog
from aiohttp import web

from incident.adapters.kafka_bus import MessageProducer
from incident.bootstrap import Runtime
from incident.domain.model import NoticeJob
from incident.entrypoints.callbacks import auth_token_from, make_app
from incident.service.dispatch import job_payload

log = structlog.get_logger()


def start_callback_server(rt: Runtime) -> Callable[[], None] | None:
    """Start the listener in a thread of its own; returns its stopper (None when off)."""
    cfg = rt.settings.callbacks
    if cfg.port is None:
        return None
    producer = MessageProducer(rt.settings.kafka, rt.bootstrap_servers)
    topic = rt.settings.kafka.notices_topic

    def publish(job: NoticeJob) -> None:
        producer.publish_all(topic, [(job.person_id, job_payload(job))])

    app = make_app(
        engine=rt.engine,
        auth_token=auth_token_from(rt.settings),
        publish=publish,
        public_url=cfg.public_url,
    )
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, cfg.host, cfg.port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="callbacks", daemon=True)
    thread.start()
    ready.wait(10)
    log.info("callbacks_listening", host=cfg.host, port=cfg.port)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        producer.close()

    return stop
