"""The process tree of `breachnotice serve`, read from /proc, for fault tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


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


def start_embedded_serve(tmp_path: Path, dispatchers: int = 2) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BREACHNOTICE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "BREACHNOTICE_OUT_DIR": str(tmp_path / "out"),
        "BREACHNOTICE_LOG_FORMAT": "json",
    }
    with (tmp_path / "serve.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "from incident.entrypoints.cli import main; main()",
             "serve", "--embedded", "--dispatchers", str(dispatchers)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def dispatcher_pids(serve: subprocess.Popen[bytes]) -> set[int]:
    return {p for p in children(serve.pid) if "spawn_main" in name_of(p)}


def broker_pids(serve: subprocess.Popen[bytes]) -> set[int]:
    return {p for p in children(serve.pid) if "tansu" in name_of(p)}


def wait_for_tree(
    serve: subprocess.Popen[bytes], log: Path, dispatchers: int = 2, timeout: float = 60
) -> set[int]:
    """The dispatcher and broker pids once all are up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, broker = dispatcher_pids(serve), broker_pids(serve)
        if len(found) >= dispatchers and broker:
            return found | broker
        assert serve.poll() is None, log.read_text()[-2000:]
        time.sleep(0.2)
    raise AssertionError(f"serve did not start {dispatchers} dispatchers and a broker")
