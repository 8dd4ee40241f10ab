"""Item 1 of issue 23: an unauthenticated client cannot make the callback routes read a huge
body or parse a huge form. Over real HTTP to uvicorn: the body is refused (413) before it is
read, whatever its framing, and the server stays responsive meanwhile."""

from __future__ import annotations

import select
import socket
import threading
import time
import urllib.request
from pathlib import Path

from incident.entrypoints.callbacks import PATH
from tests.security.conftest import Service

MB = 1024 * 1024
PIECE = 64 * 1024


def rss_bytes() -> int:
    """The test process's resident set: the server runs in one of its threads."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def post_raw(port: int, total: int, *, chunked: bool, piece: bytes = b"a" * PIECE) -> bytes:
    """Send an unsigned POST of `total` bytes the way an attacker streams it, stopping only
    when the server answers; the first line of its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % total
        sock.sendall(
            b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n" + framing + b"\r\n\r\n"
        )
        frame = b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece
        sent = 0
        while sent < total and not select.select([sock], [], [], 0.001)[0]:
            try:
                sock.sendall(frame)
            except OSError:  # the server closed the connection after refusing
                break
            sent += len(piece)
        if chunked and sent >= total:
            sock.sendall(b"0\r\n\r\n")  # the whole body went through: end it
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_an_unsigned_200_mb_post_is_refused_before_it_is_read(service: Service) -> None:
    before = rss_bytes()
    for chunked in (False, True):
        started = time.monotonic()
        first_line = post_raw(service.port, 200 * MB, chunked=chunked)
        took = time.monotonic() - started
        assert first_line.startswith(b"HTTP/1.1 413"), (chunked, first_line)
        assert took < 2.0, (chunked, took)
    grown = rss_bytes() - before
    assert grown < 8 * MB, f"the server's memory grew by {grown / MB:.1f} MB"


def healthz_latency(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(f"{url}/healthz", timeout=30) as answer:
        assert answer.status == 200
    return time.monotonic() - started


def test_a_form_of_millions_of_fields_does_not_stall_healthz(service: Service) -> None:
    huge = b"a=&" * 3_900_000  # 11.7 MB, 3.9 M fields
    small = b"a=&" * 20_000  # 60 kB: under the body limit, over the field limit
    answers: list[bytes] = []

    def attack() -> None:
        for _ in range(5):
            answers.append(post_raw(service.port, len(huge), chunked=False, piece=huge[:PIECE]))
            answers.append(post_raw(service.port, len(small), chunked=True, piece=small))

    attacker = threading.Thread(target=attack)
    attacker.start()
    latencies = []
    while attacker.is_alive():
        latencies.append(healthz_latency(service.url))
    attacker.join()
    latencies.append(healthz_latency(service.url))
    assert answers and all(a.startswith(b"HTTP/1.1 413") for a in answers), answers
    assert max(latencies) < 0.5, latencies
