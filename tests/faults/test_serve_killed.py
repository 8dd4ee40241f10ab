"""kill -9 of `serve`: no dispatcher process and no embedded broker outlives it (they are
killed with it by the kernel, PR_SET_PDEATHSIG), so nothing is sent once the parent is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found |= {int(p) for p in text.split()}
    return found


def name_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_dispatcher_or_broker_outlives_a_killed_serve_by_more_than_a_second(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "BREACHNOTICE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "BREACHNOTICE_OUT_DIR": str(tmp_path / "out"),
        "BREACHNOTICE_LOG_FORMAT": "json",
    }
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-c", "from incident.entrypoints.cli import main; main()",
             "serve", "--embedded", "--dispatchers", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        tree: set[int] = set()
        while time.monotonic() < deadline:
            tree = {p for p in children(serve.pid) if "resource_tracker" not in name_of(p)}
            names = [name_of(p) for p in tree]
            if sum("multiprocessing" in n for n in names) >= 2 and any("tansu" in n for n in names):
                break
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            time.sleep(0.2)
        else:
            pytest.fail(f"serve did not start 2 dispatchers and a broker: {names}")
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
        os.killpg(serve.pid, signal.SIGKILL) if _group_alive(serve.pid) else None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
