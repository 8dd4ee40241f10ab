"""A step run in a thread of its own, on items in the order they were handed over.

Enrichment reads and decides one chunk of people while the chunk before it is written and
published: the database works on its core while Python works on the other, instead of each
waiting for the other. At most `depth` items wait, so memory stays bounded whatever the scope.
The first error stops the thread; it is raised in the submitting thread at its next `submit` or
at `finish`, never lost.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_STOP = object()


class InOrder(Generic[T]):
    def __init__(self, handle: Callable[[T], None], *, name: str, depth: int = 2) -> None:
        self._handle = handle
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None or self._stopping:
                continue  # drain: the submitter learns of the error and stops
            try:
                self._handle(item)  # type: ignore[arg-type]
            except BaseException as exc:  # raised again in the submitting thread
                self._error = exc

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, item: T) -> None:
        """Queue `item`; waits while `depth` items are queued. Raises the step's first error."""
        self._raise_error()
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                self._raise_error()

    def finish(self) -> None:
        """Wait until every item is handled; raise the step's first error, if any."""
        self._queue.put(_STOP)
        self._thread.join()
        self._raise_error()

    def abort(self) -> None:
        """Stop after the item in hand (the submitter failed); the rest are dropped."""
        self._stopping = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_STOP)
        self._thread.join()
