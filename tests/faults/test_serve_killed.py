"""kill -9 of `serve`: no dispatcher process and no embedded broker outlives it (they are
killed with it by the kernel, PR_SET_PDEATHSIG), so nothing is sent once the parent is gone."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.faults.processes import (
    alive,
    dispatcher_pids,
    name_of,
    start_embedded_serve,
    wait_for_tree,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def test_no_dispatcher_or_broker_outlives_a_killed_serve_by_more_than_a_second(
    tmp_path: Path,
) -> None:
    serve = start_embedded_serve(tmp_path)
    try:
        tree = wait_for_tree(serve, tmp_path / "serve.log")
        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=10)
        killed = time.monotonic()
        while any(alive(p) for p in tree) and time.monotonic() - killed < 1.0:
            time.sleep(0.05)
        survivors = {p: name_of(p) for p in tree if alive(p)}
        assert survivors == {}, f"outlived serve by a second: {survivors}"
    finally:
        if serve.poll() is None:
            serve.kill()


def test_a_killed_dispatcher_process_is_replaced_and_sigterm_then_stops_everything(
    tmp_path: Path,
) -> None:
    serve = start_embedded_serve(tmp_path)
    log = tmp_path / "serve.log"
    try:
        tree = wait_for_tree(serve, log)
        before = dispatcher_pids(serve)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = dispatcher_pids(serve)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.1)
        assert len(now) == 2 and victim not in now, f"no new dispatcher: {before} -> {now}"
        assert before - {victim} <= now, "the other dispatcher should not have been touched"
        tree |= now
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=40)  # the bound: claim lease (30 s by default) + 10 s
        assert serve.returncode == 0, log.read_text()[-2000:]
        assert "stopped: in-flight work finished" in log.read_text()
        assert {p for p in tree if alive(p)} == set()
    finally:
        if serve.poll() is None:
            serve.kill()


def test_sigterm_right_after_a_dispatcher_died_stops_serve_within_the_bound(
    tmp_path: Path,
) -> None:
    serve = start_embedded_serve(tmp_path)
    log = tmp_path / "serve.log"
    try:
        tree = wait_for_tree(serve, log)
        os.kill(min(dispatcher_pids(serve)), signal.SIGKILL)
        time.sleep(0.2)
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=40)
        assert {p for p in tree | dispatcher_pids(serve) if alive(p)} == set()
    finally:
        if serve.poll() is None:
            serve.kill()
