"""Dispatchers in processes of their own: one Python process is bound to one core by the GIL,
so on an N-core box N dispatcher processes (members of one consumer group) share the work.

The parent supervises them: a dead one is restarted with backoff. They die with the parent
(PR_SET_PDEATHSIG on Linux, and a watch on the parent's pid elsewhere), and SIGTERM/SIGINT
reach each of them as a graceful stop: the batch in hand is finished and recorded."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent

import structlog

from incident.bootstrap import Runtime, start_runtime
from incident.entrypoints import health
from incident.entrypoints.child_guard import die_with_parent, dispatcher_child
from incident.entrypoints.supervision import RestartPolicy
from incident.log import configure_logging
from incident.settings import Settings

log = structlog.get_logger()
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int, stop: threading.Event) -> None:
    """The kernel kills this process with its parent (child_guard); elsewhere a watch on the
    parent's pid stops it."""
    die_with_parent(parent)

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _dispatcher_main(
    settings: Settings, shared_stop: ProcessEvent, index: int, parent: int
) -> None:
    from incident.entrypoints.workers import run_dispatcher

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    _die_with_parent(parent, stop)

    def relay_stop() -> None:
        shared_stop.wait()
        stop.set()

    threading.Thread(target=relay_stop, name="stop-relay", daemon=True).start()
    configure_logging(
        fmt=settings.log_format, level=settings.log_level, libraries=settings.log_library_level
    )
    runtime = start_runtime(settings, embedded_ok=False)
    try:
        run_dispatcher(runtime, stop, index=index)
    finally:
        runtime.close()


class DispatcherProcesses:
    """Start `count` dispatcher processes against the parent's (already resolved) servers."""

    def __init__(self, runtime: Runtime, count: int) -> None:
        kafka = runtime.settings.kafka.model_copy(
            update={"bootstrap_servers": runtime.bootstrap_servers}
        )
        # The children use the servers this process resolved (the local stand-ins included).
        channels = {name: cfg.model_dump() for name, cfg in runtime.channel_settings.items()}
        # Each process takes its share of every provider's rate limit.
        dispatch = runtime.settings.dispatch.model_copy(update={"processes": max(1, count)})
        self._settings = runtime.settings.model_copy(
            update={
                "kafka": kafka,
                "channels": {**runtime.settings.channels, **channels},
                "dispatch": dispatch,
            }
        )
        self._context = multiprocessing.get_context("spawn")  # no inherited threads/sockets
        self._stop = self._context.Event()
        self._procs: list[BaseProcess] = [self._new(i) for i in range(count)]
        self._policies = [RestartPolicy() for _ in range(count)]
        self._started = [0.0] * count
        self._restart_at: dict[int, float] = {}
        self.gave_up: list[str] = []

    def _new(self, index: int) -> BaseProcess:
        return self._context.Process(
            target=dispatcher_child,
            args=(self._settings, self._stop, index, os.getpid()),
            name=f"dispatcher-{index}",
            daemon=True,
        )

    def start(self) -> DispatcherProcesses:
        for i, proc in enumerate(self._procs):
            proc.start()
            self._started[i] = time.monotonic()
        return self

    def supervise(self) -> bool:
        """Restart dead processes (with backoff); False once one keeps failing: give up."""
        now = time.monotonic()
        for i, proc in enumerate(self._procs):
            name = f"dispatcher-process-{i}"
            if proc.is_alive() or self._stop.is_set():
                health.report(name, "up")
                continue
            if i not in self._restart_at:
                delay = self._policies[i].crashed(now - self._started[i], now)
                if delay is None:
                    self.gave_up.append(proc.name or f"dispatcher-{i}")
                    health.report(name, "gave_up")
                    return False
                health.report(name, "restarting")
                log.error(
                    "dispatcher_process_died",
                    process=proc.name,
                    exitcode=proc.exitcode,
                    restart_in_s=round(delay, 1),
                )
                self._restart_at[i] = now + delay
            elif now >= self._restart_at[i]:
                del self._restart_at[i]
                self._procs[i] = self._new(i)
                self._procs[i].start()
                self._started[i] = now
        return True

    def stop(self, *, timeout: float = 60.0) -> list[int | None]:
        """Ask every process to finish its batch and commit; returns their exit codes."""
        self._stop.set()
        for proc in self._procs:
            proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        return [proc.exitcode for proc in self._procs]

    @property
    def crashed(self) -> list[str]:
        return list(self.gave_up)
