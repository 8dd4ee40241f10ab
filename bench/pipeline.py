#!/usr/bin/env python3
"""End-to-end throughput of the embedded pipeline: intake → outbox → Kafka → enrichment →
dispatch → SMTP → durable delivery rows, to a local SMTP sink.

    python bench/pipeline.py --people 100000

The sink is Postfix's `smtp-sink` (C, `apt-get install postfix`) so the cores stay with the
sender; without it an aiosmtpd sink is used and the figure says so. Prints notices/s end to end
(from raising the incident to the last delivery row), the per-stage split, and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incident.adapters.local_broker import free_port
from incident.adapters.tables import DeliveryAttempt
from incident.bootstrap import start_runtime
from incident.entrypoints.processes import DispatcherProcesses
from incident.entrypoints.workers import run_all
from incident.log import configure_logging
from incident.service.intake import load_incident_file, raise_incident
from incident.service.progress import notice_counts
from incident.service.sample import seed_directory
from incident.settings import ApprovalSettings, KafkaSettings, Settings, config_dir


def start_sink() -> tuple[int, subprocess.Popen[bytes] | None, str]:
    port = free_port()
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if os.path.exists(binary):
        proc = subprocess.Popen(
            [binary, "-c", "-u", "nobody", f"127.0.0.1:{port}", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)
        return port, proc, "smtp-sink (postfix)"
    from channels.local_smtp import LocalMaildirServer

    server = LocalMaildirServer(Path(tempfile.mkdtemp()) / "mail", port=port)
    server.start()
    return port, None, "aiosmtpd Maildir sink (install postfix for smtp-sink)"


def smtp_ceiling(port: int, *, messages: int = 20_000, connections: int = 8) -> float:
    """Pre-serialised bytes over pooled aiosmtplib connections: what the SMTP exchange alone
    does in this run, the yardstick of PERFORMANCE.md (target: pipeline >= half of it)."""
    import asyncio

    import aiosmtplib

    from channels.mime import build_message

    body = build_message(
        sender="bench@example.org",
        recipient="sink@example.com",
        subject="ceiling",
        text="x" * 2000,
        html=None,
        message_id="ceiling@example.org",
    )

    async def run() -> float:
        clients = [
            aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            for _ in range(connections)
        ]
        await asyncio.gather(*(c.connect() for c in clients))
        per = messages // connections
        start = time.perf_counter()

        async def pump(client: aiosmtplib.SMTP) -> None:
            for _ in range(per):
                await client.sendmail("bench@example.org", ["sink@example.com"], body)

        await asyncio.gather(*(pump(c) for c in clients))
        elapsed = time.perf_counter() - start
        await asyncio.gather(*(c.quit() for c in clients))
        return per * connections / elapsed

    return asyncio.run(run())


def claim_windows_ms(engine: Engine) -> list[float]:
    """Per notice, how long its key stayed `sending` (claimed, not yet recorded): the window in
    which a crash makes the notice go out twice, with the same Message-ID (DESIGN §2)."""
    with Session(engine) as session:
        rows = session.exec(
            select(DeliveryAttempt.claimed_at, DeliveryAttempt.sent_at).where(
                DeliveryAttempt.status == "sent"
            )
        ).all()
    return sorted((sent - claimed).total_seconds() * 1000 for claimed, sent in rows if sent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--dispatchers", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    configure_logging(fmt="json", level="warning")
    workdir = Path(tempfile.mkdtemp(prefix="bn-bench-"))
    port, sink, sink_name = start_sink()
    ceiling = smtp_ceiling(port)
    settings = Settings(
        database_url=args.database_url or f"sqlite:///{workdir / 'bench.db'}",
        out_dir=workdir,
        log_level="warning",  # one line per notice is for operators, not for a benchmark
        kafka=KafkaSettings(notices_partitions=8),
        channels={
            "email": {"host": "127.0.0.1", "port": port, "start_tls": False, "concurrency": 8}
        },
    )
    rt = start_runtime(settings)
    try:
        t0 = time.perf_counter()
        seed_directory(rt.engine, args.people)
        seeded = time.perf_counter() - t0
        spec = load_incident_file(config_dir() / "examples" / "incident.yaml")
        stop = threading.Event()
        # One dispatcher runs in this process; more run as processes, one per core.
        threads = run_all(rt, stop, dispatchers=1 if args.dispatchers == 1 else 0)
        procs = DispatcherProcesses(rt, args.dispatchers if args.dispatchers > 1 else 0).start()
        time.sleep(4)  # let consumer groups join before the clock starts
        start = time.perf_counter()
        incident_id = raise_incident(  # a benchmark measures the fan-out: approval waived
            rt.engine,
            spec,
            topic=settings.kafka.incidents_topic,
            now=datetime.now(UTC),
            approval=ApprovalSettings(waive=["low", "medium", "high", "critical"]),
        )
        enriched_at = None
        while time.perf_counter() - start < args.timeout and not stop.is_set():
            counts = notice_counts(rt.engine, incident_id)
            if enriched_at is None and counts.affected == args.people:
                enriched_at = time.perf_counter() - start
            if counts.affected == args.people and counts.done:
                break
            time.sleep(0.5)
            print(f"\r  {counts.settled:,}/{args.people:,} settled", end="", file=sys.stderr)
        elapsed = time.perf_counter() - start
        stop.set()
        procs.stop()
        for thread in threads:
            thread.join(timeout=60)
        counts = notice_counts(rt.engine, incident_id)
        window = claim_windows_ms(rt.engine)
    finally:
        rt.close()
        if sink is not None:
            sink.terminate()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeople: {args.people:,}   sink: {sink_name}   database: {settings.database_url}")
    print(f"directory seeded in {seeded:.1f} s (not counted)")
    print(f"enrichment finished after {enriched_at or float('nan'):.1f} s")
    print(f"sent {counts.sent:,}, unreachable {counts.unreachable:,}, pending {counts.pending:,}")
    rate = counts.settled / elapsed
    print(
        f"end to end: {elapsed:.1f} s = {rate:,.0f} notices/s "
        f"({args.dispatchers} dispatcher{'s' if args.dispatchers > 1 else ''})"
    )
    print(
        f"SMTP ceiling in this run (pre-serialised, 8 connections): {ceiling:,.0f} msgs/s; "
        f"pipeline = {rate / ceiling:.0%} of it (target for 1M people: >= 50%)"
    )
    if window:
        p50, p99 = (window[min(len(window) - 1, int(q * len(window)))] for q in (0.5, 0.99))
        print(
            f"claim→record window per notice: p50 {p50:.0f} ms, p99 {p99:.0f} ms,"
            f" max {window[-1]:.0f} ms"
        )
    print(
        f"peak RSS: this process {rss_mb:,.0f} MB; largest child (dispatcher, broker, sink) "
        f"{child_mb:,.0f} MB"
    )
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if counts.done else 1


if __name__ == "__main__":
    sys.exit(main())
