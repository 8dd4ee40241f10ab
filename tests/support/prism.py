"""Twilio's own API contract on loopback, for the SMS and voice tests (see twilio/README.md).

- `prism mock SPEC`: Prism answers every valid request with the spec's examples and refuses one
  that breaks the contract (422 missing fields, 401 without Basic auth).
- `prism proxy SPEC UPSTREAM --errors`: Prism validates each request the same way and forwards
  the valid ones to `TwilioUpstream`, a tiny local server that records what it received (the
  request bodies Prism validated: what tests assert on) and answers like Twilio, including
  Twilio's error codes for the numbers it is told to refuse.

Prism is found through BREACHNOTICE_PRISM or ./node_modules/.bin/prism at the repo root
(`.ci/run` installs it there). Missing: the tests skip locally and fail in CI (CI=1).
The SDK reaches it through `OriginRewritingClient` (tests only: production uses the stock
client), which rewrites the `https://api.twilio.com` origin.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

ROOT = Path(__file__).resolve().parents[2]
# Twilio's contract, kept beside this file (tests/support/twilio/README.md).
SPEC = Path(
    os.environ.get(
        "BREACHNOTICE_TWILIO_SPEC", Path(__file__).parent / "twilio/twilio_api_v2010.json"
    )
)
ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-auth-token"
_TWILIO_ORIGIN = re.compile(r"^https://[\w.-]*twilio\.com")
READY_SECONDS = 60.0  # the 1.9 MB spec loads in ~2 s; two shared cores can make it slower


def missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not available, and CI requires every real peer")
    pytest.skip(f"{what} is not available")


def prism_binary() -> Path | None:
    named = os.environ.get("BREACHNOTICE_PRISM")
    path = Path(named) if named else ROOT / "node_modules" / ".bin" / "prism"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OriginRewritingClient(AsyncTwilioHttpClient):
    """The stock async client, sending `https://*.twilio.com` requests to `origin()` instead."""

    def __init__(self, origin: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.origin = origin

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return await super().request(
            method, _TWILIO_ORIGIN.sub(self.origin(), url, count=1), *args, **kwargs
        )


class Prism:
    """One Prism process, started from its binary (one PID to stop), ready when its port is."""

    def __init__(self, binary: Path, args: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as Prism
            prefix="prism-", suffix=".log", delete=False
        )
        self._proc = subprocess.Popen(
            [str(binary), *args, "-h", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prism exited ({self._proc.returncode}): {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prism not ready within {READY_SECONDS:.0f} s: {self.log_tail()}")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def log_tail(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


@dataclass(frozen=True)
class Forwarded:
    path: str
    form: dict[str, str]


@dataclass
class TwilioUpstream:
    """Behind `prism proxy`: records every request Prism validated, answers like Twilio."""

    # number -> (HTTP status, Twilio error code); a Messages or Calls POST `To` it is refused.
    refused: dict[str, tuple[int, int]] = field(default_factory=dict)
    received: list[Forwarded] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop, self._thread = loop, threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Twilio upstream did not start")

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.received.append(Forwarded(request.path, form))
        kind = "CA" if request.path.endswith("/Calls.json") else "SM"
        if form.get("To") in self.refused:
            status, code = self.refused[form["To"]]
            said = f"The 'To' number {form['To']} is not a valid phone number."
            return web.json_response(
                {"code": code, "message": said, "status": status, "more_info": ""}, status=status
            )
        body = {
            "sid": kind + secrets.token_hex(16),
            "account_sid": ACCOUNT_SID,
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
        }
        return web.json_response(body, status=201)

    def stop(self) -> None:
        if self._loop is None or self._runner is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@dataclass
class TwilioPeer:
    """`prism proxy --errors` in front of a `TwilioUpstream`: the contract, with error codes."""

    prism: Prism
    upstream: TwilioUpstream

    @property
    def url(self) -> str:
        return self.prism.url

    def stop(self) -> None:
        self.prism.stop()
        self.upstream.stop()


_shared: dict[str, Any] = {}
_lock = threading.Lock()


def _start_once(name: str, start: Callable[[Path], Any]) -> Any:
    """Each peer once per test process (session scope, also for the contract cases, which are
    not fixtures), stopped when the process exits."""
    with _lock:
        if name not in _shared:
            binary = prism_binary()
            if binary is None or not SPEC.is_file():
                missing(f"Prism (BREACHNOTICE_PRISM or node_modules/.bin/prism) with {SPEC}")
            assert binary is not None
            try:
                _shared[name] = start(binary)
            except (RuntimeError, OSError) as exc:
                missing(f"Prism ({exc})")
            atexit.register(_shared[name].stop)
        return _shared[name]


def shared_peer() -> TwilioPeer:
    def start(binary: Path) -> TwilioPeer:
        upstream = TwilioUpstream()
        upstream.start()
        target = f"http://127.0.0.1:{upstream.port}"
        try:
            prism = Prism(binary, ["proxy", str(SPEC), target, "--errors"])
        except BaseException:
            upstream.stop()
            raise
        return TwilioPeer(prism, upstream)

    peer: TwilioPeer = _start_once("proxy", start)
    return peer


def shared_mock() -> Prism:
    mock: Prism = _start_once("mock", lambda binary: Prism(binary, ["mock", str(SPEC)]))
    return mock
