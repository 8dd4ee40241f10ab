"""The writer step of enrichment: items handled in order in a thread of its own, its first
error raised in the thread that hands items over."""

from __future__ import annotations

import threading

import pytest

from incident.service.in_order import InOrder


def test_items_are_handled_in_the_order_given_in_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    step: InOrder[int] = InOrder(lambda i: seen.append((i, threading.current_thread().name)),
                                 name="writer")  # fmt: skip
    for i in range(50):
        step.submit(i)
    step.finish()
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"writer"}


def test_the_first_error_is_raised_at_the_next_submit_and_later_items_are_not_handled() -> None:
    seen: list[int] = []
    failed = threading.Event()

    def handle(i: int) -> None:
        if i == 2:
            failed.set()
            raise ValueError("row 2 refused")
        seen.append(i)

    step: InOrder[int] = InOrder(handle, name="writer")
    for i in range(3):
        step.submit(i)
    failed.wait(5)
    with pytest.raises(ValueError, match="row 2 refused"):
        for i in range(3, 100):
            step.submit(i)
    step.abort()
    assert seen == [0, 1]


def test_an_error_is_raised_at_finish_when_nothing_else_is_submitted() -> None:
    def handle(i: int) -> None:
        raise OSError("disk full")

    step: InOrder[int] = InOrder(handle, name="writer")
    step.submit(1)
    with pytest.raises(OSError, match="disk full"):
        step.finish()


def test_abort_drops_what_waits_and_stops_the_thread() -> None:
    started, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def handle(i: int) -> None:
        started.set()
        release.wait(5)
        seen.append(i)

    step: InOrder[int] = InOrder(handle, name="writer", depth=5)
    for i in range(4):
        step.submit(i)
    started.wait(5)
    threading.Timer(0.2, release.set).start()
    step.abort()  # returns once the item in hand is done
    assert seen == [0]
    assert not step._thread.is_alive()
