"""`/healthz` tells the truth about supervision: 503 naming the dispatcher process that died
while it is being replaced, 200 again once a new process (a new PID) runs in its place."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from incident.adapters.local_broker import free_port
from tests.faults.processes import alive, dispatcher_pids, wait_for_tree

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def start_serve_with_http(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BREACHNOTICE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "BREACHNOTICE_OUT_DIR": str(tmp_path / "out"),
        "BREACHNOTICE_LOG_FORMAT": "json",
        "BREACHNOTICE_CALLBACKS__PORT": str(port),
    }
    with (tmp_path / "serve.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "from incident.entrypoints.cli import main; main()",
             "serve", "--embedded", "--dispatchers", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def healthz(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())
    except OSError:
        return 0, {}


def wait_for(port: int, status: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    seen: tuple[int, dict[str, object]] = (0, {})
    while time.monotonic() < deadline:
        seen = healthz(port)
        if seen[0] == status:
            return seen[1]
        time.sleep(0.05)
    raise AssertionError(f"/healthz never answered {status}; last: {seen}")


def test_healthz_is_503_while_a_killed_dispatcher_is_replaced_and_200_after(
    tmp_path: Path,
) -> None:
    port = free_port()
    serve = start_serve_with_http(tmp_path, port)
    try:
        wait_for_tree(serve, tmp_path / "serve.log")
        up = wait_for(port, 200, timeout=30)
        assert up["status"] == "ok"
        before = dispatcher_pids(serve)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        degraded = wait_for(port, 503, timeout=5)
        workers = degraded["workers"]
        assert isinstance(workers, dict) and "restarting" in workers.values(), degraded
        again = wait_for(port, 200, timeout=20)
        assert again["status"] == "ok"
        now = dispatcher_pids(serve)
        assert victim not in now and len(now) == 2, (before, now)
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=40)
        assert {p for p in before | now if alive(p)} == set()
    finally:
        if serve.poll() is None:
            serve.kill()
