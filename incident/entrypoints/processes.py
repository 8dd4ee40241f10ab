"""Dispatchers in processes of their own: one Python process is bound to one core by the GIL,
so on an N-core box N dispatcher processes (members of one consumer group) share the work."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Event as ProcessEvent

from incident.bootstrap import Runtime, start_runtime
from incident.log import configure_logging
from incident.settings import Settings


def _dispatcher_main(settings: Settings, stop: ProcessEvent, index: int) -> None:
    from incident.entrypoints.workers import run_dispatcher

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
        self._settings = runtime.settings.model_copy(
            update={"kafka": kafka, "channels": {**runtime.settings.channels, **channels}}
        )
        context = multiprocessing.get_context("spawn")  # no inherited threads or connections
        self._stop = context.Event()
        self._procs = [
            context.Process(
                target=_dispatcher_main,
                args=(self._settings, self._stop, i),
                name=f"dispatcher-{i}",
                daemon=True,
            )
            for i in range(count)
        ]

    def start(self) -> DispatcherProcesses:
        for proc in self._procs:
            proc.start()
        return self

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
        return [p.name for p in self._procs if p.exitcode not in (None, 0)]
