#!/usr/bin/env python3
"""Per-channel delivery throughput: SMS (Twilio SDK), letters (PDF into a drop folder) and Web
Push (VAPID + aes128gcm), each against a local peer on loopback.

    .venv/bin/python bench/channel_throughput.py    # all: SMS 2000, letters 300, push 2000
    .venv/bin/python bench/channel_throughput.py --channel sms --messages 2000
    .venv/bin/python bench/channel_throughput.py --channel sms --no-prism  # local server only
    .venv/bin/python bench/channel_throughput.py --channel letter --messages 300
    .venv/bin/python bench/channel_throughput.py --channel push --messages 2000

What is measured. Each channel is built by its real factory, `channels.REGISTRY[name].factory`,
from its settings model and a `BuildContext`, and delivers N messages through `deliver_many` in
batches of its `batch_size` at its own `concurrency` (settings defaults: SMS 8, letters 4, push
16), the way the dispatcher hands it work. The messages are composed beforehand (not timed) by
the service's own `Composer` from `config/examples/incident.yaml`, one per person of the sample
directory (`incident.service.sample`: NL/DE/FR/ES/GB/US/BR/CN/JP/CA, so ~11 % ja/zh). One
warm-up message per channel is sent first and not counted. Every row runs in a fresh process,
so "peak RSS" is that sender process's own high-water mark (it includes composing the
messages); the peer runs in a process of its own and its peak is shown beside it.

Peers (all on 127.0.0.1, started and stopped by this script):
- sms/local: an aiohttp server answering `POST /2010-04-01/Accounts/{sid}/Messages.json` with
  a Twilio-like JSON 201 (it parses the form and requires Basic auth). The SDK reaches it as in
  the tests (tests/support/prism.py): the stock `AsyncTwilioHttpClient` with the
  `https://api.twilio.com` origin rewritten. The factory has no hook for the SDK's HTTP client
  (production talks to Twilio), so the bench sets the same `http_client` factory the tests pass
  to `SmsChannel(...)` on the factory-built channel.
- sms/prism: `./node_modules/.bin/prism mock tests/support/twilio/twilio_api_v2010.json` (the API
  contract: validates every request, answers the spec's example). Skipped when the binary or the
  spec is missing, or with --no-prism. Install: `npm install --no-save --prefix .
  @stoplight/prism-cli@5.14.2`.
- letter: no peer; PDFs (reportlab, CJK via Droid Sans Fallback) and the print run's manifest
  are written to a temporary drop folder, which is removed afterwards. Pages/s from the manifest.
- push/decrypting: `tests.support.push_endpoint.PushEndpoint`, which verifies each VAPID JWT and
  decrypts each aes128gcm body (that work is the peer's, but shares the box's 2 cores).
- push/201: a minimal aiohttp responder (201 + Location, reads the body, checks nothing): the
  sender's own ceiling. In both, every message goes to its own subscription (own keys), so the
  sender does a fresh ECDH + HKDF + AES-GCM per message, as in production.

Figures drift between runs and machines (PERFORMANCE.md): compare rows of one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import dataclasses
import multiprocessing
import os
import resource
import secrets
import socket
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The tests' peers (the push endpoint) are imported from the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_N = {"sms": 2000, "letter": 300, "push": 2000}
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
PRISM = Path(os.environ.get("BREACHNOTICE_PRISM", ROOT / "node_modules/.bin/prism"))
TWILIO_SPEC = Path(
    os.environ.get("BREACHNOTICE_TWILIO_SPEC", ROOT / "tests/support/twilio/twilio_api_v2010.json")
)
INCIDENT_FILE = ROOT / "config/examples/incident.yaml"
INCIDENT_ID = "INC-BENCH-0001"
READY_SECONDS = 60.0


@dataclass
class Row:
    channel: str
    peer: str
    messages: int
    seconds: float
    failed: int
    rss_mb: float | None
    peer_rss_mb: float | None
    note: str = ""

    @property
    def rate(self) -> float:
        return (self.messages - self.failed) / self.seconds if self.seconds else 0.0


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """VmHWM: the process's own peak RSS. Not ru_maxrss, which Linux carries across exec, so a
    spawned child would report its parent's size at fork time."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid == "self":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Messages: composed by the service's own Composer for the sample directory's people.


def compose(channel: str, n: int) -> list[Any]:
    """`n` RenderedMessages for `channel` (+1 warm-up first), as the dispatcher would hand them."""
    from channels import REGISTRY
    from channels.base import ContactKind, ContactPointData
    from incident.adapters.documents import load_document
    from incident.adapters.tables import Person
    from incident.domain.incident_spec import parse_incident_spec
    from incident.entrypoints.cli_preview import incident_row
    from incident.rendering import Renderer
    from incident.service.compose import Composer, Delivery
    from incident.settings import templates_dir

    incident = incident_row(parse_incident_spec(load_document(INCIDENT_FILE)), INCIDENT_ID)
    parts = {channel: REGISTRY[channel].template_parts}
    composer = Composer(
        Renderer(templates_dir(), required_parts=parts),
        message_domain="bench.invalid",
        message_key=b"bench",
    )
    categories = tuple(incident.categories)
    from incident.service.sample import sample_people

    out = []
    for i, row in enumerate(sample_people(n + 1)):
        person = Person(
            id=row["id"],
            name=row["name"],
            locale=row["locale"],
            country=row["country"],
            region=row["region"],
        )
        if channel == "letter":
            a = row["postal_address"]
            contact = ContactPointData(ContactKind.POSTAL, "", a, a["country"])
        elif channel == "sms":
            contact = ContactPointData(ContactKind.PHONE, f"+3161{i:07d}", {}, "NL")
        else:
            contact = None  # push: filled in per subscription once the peer is up
        key = f"{incident.id}:{person.id}:{channel}:1"
        d = Delivery(key, i + 1, channel, incident, person, person, categories, contact,
                     jurisdiction=row["region"] or row["country"])  # fmt: skip
        out.append(composer.message(d))
    return out


def locale_mix(msgs: Sequence[Any]) -> str:
    counts = Counter(m.locale.split("_")[0] for m in msgs)
    cjk = counts["ja"] + counts["zh"]
    return f"ja+zh {cjk / max(1, len(msgs)):.0%}"


# ---------------------------------------------------------------------------------------------
# Peers, each in a process of its own: (ready info) -> pipe; "stop" <- pipe; (count, rss) -> pipe.


def _serve_in_process(conn: Connection, app_factory: Callable[[], Any]) -> None:
    from aiohttp import web

    async def main() -> None:
        state = app_factory()
        app: web.Application = state["app"]
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = int(runner.addresses[0][1])
        conn.send({"port": port})
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        count = state["count"]()
        await runner.cleanup()
        conn.send((count, peak_rss_mb()))

    asyncio.run(main())


def twilio_app() -> dict[str, Any]:
    """A Twilio-shaped Messages endpoint: form in, Twilio's JSON out, 201."""
    from aiohttp import web

    seen = [0]
    path = "/2010-04-01/Accounts/{sid}/Messages.json"

    async def create(request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Basic "):
            return web.json_response({"code": 20003, "status": 401}, status=401)
        form = await request.post()
        if not form.get("To") or not (form.get("Body") or form.get("MediaUrl")):
            return web.json_response({"code": 21604, "status": 400}, status=400)
        seen[0] += 1
        sid = "SM" + secrets.token_hex(16)
        account = request.match_info["sid"]
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        body = str(form.get("Body", ""))
        return web.json_response(
            {
                "sid": sid,
                "account_sid": account,
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "to": form.get("To"),
                "from": form.get("From"),
                "body": body,
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "num_media": "0",
                "price": None,
                "price_unit": "USD",
                "error_code": None,
                "error_message": None,
                "api_version": "2010-04-01",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"
                },
            },
            status=201,
        )

    app = web.Application()
    app.router.add_post(path, create)
    return {"app": app, "count": lambda: seen[0]}


async def _push_decrypting_peer(conn: Connection, n: int) -> None:
    """tests/support/push_endpoint.py's PushEndpoint (VAPID check + aes128gcm decrypt), with
    `n` subscriptions (one per message, each its own keys) handed to the sender."""
    from tests.support.push_endpoint import PushEndpoint

    endpoint = PushEndpoint()
    await endpoint.start()
    subs = [dict(endpoint.subscribe().details) for _ in range(n)]
    conn.send({"port": endpoint.port, "subscriptions": subs})
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    if endpoint.refusals:
        print(f"push peer refused {len(endpoint.refusals)}: {endpoint.refusals[0]}")
    count = len(endpoint.received)
    await endpoint.stop()
    conn.send((count, peak_rss_mb()))


def push_201_app() -> dict[str, Any]:
    from aiohttp import web

    seen = [0]

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        seen[0] += 1
        return web.Response(status=201, headers={"Location": f"/m/{seen[0]}"})

    app = web.Application()
    app.router.add_post("/push/{token}", accept)
    return {"app": app, "count": lambda: seen[0]}


def _peer_main(conn: Connection, kind: str, n: int) -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    if kind == "push-decrypting":
        asyncio.run(_push_decrypting_peer(conn, n))
    else:
        _serve_in_process(conn, twilio_app if kind == "twilio" else push_201_app)


class PeerProcess:
    def __init__(self, kind: str, n: int = 0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_peer_main, args=(child, kind, n), daemon=False)
        self._proc.start()
        if not self._conn.poll(READY_SECONDS):
            self._proc.kill()
            raise RuntimeError(f"{kind} peer not ready within {READY_SECONDS:.0f} s")
        self.info: dict[str, Any] = self._conn.recv()
        self.url = f"http://127.0.0.1:{self.info['port']}"

    def stop(self) -> tuple[int, float | None]:
        self._conn.send("stop")
        got: tuple[int, float | None] = (0, None)
        if self._conn.poll(10):
            got = self._conn.recv()
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
        return got


# ---------------------------------------------------------------------------------------------
# Sending.


async def deliver_all(channel: Any, settings: Any, msgs: Sequence[Any]) -> tuple[float, int, str]:
    """Warm up with msgs[0], then time msgs[1:] in batches of `batch_size` at `concurrency`.
    Returns (seconds, failures, first failure)."""
    warm = await channel.deliver_many(msgs[:1], concurrency=1)
    if isinstance(warm[0], BaseException):
        raise RuntimeError(f"warm-up failed: {warm[0]!r}")
    failed, first = 0, ""
    start = time.perf_counter()
    for i in range(1, len(msgs), settings.batch_size):
        batch = msgs[i : i + settings.batch_size]
        for r in await channel.deliver_many(batch, concurrency=settings.concurrency):
            if isinstance(r, BaseException):
                failed += 1
                first = first or repr(r)
    return time.perf_counter() - start, failed, first


def build(name: str, out_dir: Path, **fields: Any) -> tuple[Any, Any]:
    """The channel from its registry entry: settings model + BuildContext + factory."""
    from channels import REGISTRY
    from channels.base import BuildContext

    spec = REGISTRY[name]
    settings = spec.settings_model(**fields)
    return spec.factory(settings, BuildContext(out_dir, "bench.invalid")), settings


def bench_sms(n: int, peer_kind: str) -> Row:
    from channels.sms import SmsChannel
    from tests.support.prism import OriginRewritingClient, Prism

    msgs = compose("sms", n)
    prism: Prism | None = None
    peer: PeerProcess | None = None
    if peer_kind == "prism":
        prism = Prism(PRISM, ["mock", str(TWILIO_SPEC)])
        url = prism.url
    else:
        peer = PeerProcess("twilio")
        url = peer.url
    with tempfile.TemporaryDirectory(prefix="bench-sms-") as tmp:
        channel, settings = build(
            "sms",
            Path(tmp),
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number="+14155550100",
            notice_url_template="https://notices.example.org/{incident_ref}",
            status_callback_url="https://hooks.example.org/twilio/status",
        )
        assert isinstance(channel, SmsChannel)
        channel._http_factory = lambda s: OriginRewritingClient(lambda: url, timeout=s.timeout)
        try:
            seconds, failed, first = asyncio.run(_run_and_close(channel, settings, msgs))
        finally:
            if prism is not None:
                peer_rss = peak_rss_mb(prism.pid)  # node's: the binary is a node script
                prism.stop()
                received = None
            else:
                assert peer is not None
                received, peer_rss = peer.stop()
    note = f"{locale_mix(msgs[1:])}; concurrency {settings.concurrency}"
    if received is not None and received != n + 1 - failed:
        note += f"; peer counted {received}"
    if first:
        note += f"; first failure {first[:120]}"
    label = "prism mock" if prism else "aiohttp Twilio-shaped"
    return Row("sms", label, n, seconds, failed, peak_rss_mb(), peer_rss, note)


async def _run_and_close(
    channel: Any, settings: Any, msgs: Sequence[Any]
) -> tuple[float, int, str]:
    try:
        return await deliver_all(channel, settings, msgs)
    finally:
        await channel.aclose()


def bench_letter(n: int) -> Row:
    msgs = compose("letter", n)
    with tempfile.TemporaryDirectory(prefix="bench-letters-") as tmp:
        drop = Path(tmp) / "drop"
        channel, settings = build("letter", Path(tmp), drop_folder=str(drop))
        seconds, failed, first = asyncio.run(_run_and_close(channel, settings, msgs))
        pages = size = 0
        for manifest in drop.glob("*/manifest.csv"):
            with manifest.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    pages += int(row["pages"])
                    size += (manifest.parent / row["file"]).stat().st_size
        letters = n + 1 - failed
        per_letter = pages / max(1, letters)
        note = (
            f"{locale_mix(msgs[1:])}; {pages * (n - failed) / max(1, letters) / seconds:.0f} "
            f"pages/s ({per_letter:.2f} pages/letter, {size / max(1, letters) / 1024:.0f} KB"
            f"/PDF); concurrency {settings.concurrency}"
        )
    if first:
        note += f"; first failure {first[:120]}"
    return Row("letter", "temp drop folder", n, seconds, failed, peak_rss_mb(), None, note)


def bench_push(n: int, peer_kind: str) -> Row:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from channels.base import ContactKind, ContactPointData

    msgs = compose("push", n)
    peer = PeerProcess(peer_kind, n + 1)
    try:
        if peer_kind == "push-decrypting":
            subs = peer.info["subscriptions"]
        else:

            def b64(data: bytes) -> str:
                return base64.urlsafe_b64encode(data).decode().rstrip("=")

            subs = []
            for i in range(n + 1):
                public = (
                    ec.generate_private_key(ec.SECP256R1())
                    .public_key()
                    .public_bytes(
                        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                    )
                )
                keys = {"p256dh": b64(public), "auth": b64(secrets.token_bytes(16))}
                subs.append({"endpoint": f"{peer.url}/push/s{i}", "keys": keys})
        msgs = [
            dataclasses.replace(
                m,
                recipient=s["endpoint"],
                contact=ContactPointData(ContactKind.PUSH, s["endpoint"], s),
            )
            for m, s in zip(msgs, subs, strict=True)
        ]
        vapid = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
            channel, settings = build(
                "push",
                Path(tmp),
                vapid_private_key=vapid.decode(),
                vapid_subject="mailto:security@example.org",
                notice_url_template="https://notices.example.org/{incident_ref}?lang={locale}",
            )
            seconds, failed, first = asyncio.run(_run_and_close(channel, settings, msgs))
    finally:
        received, peer_rss = peer.stop()
    note = f"{locale_mix(msgs[1:])}; concurrency {settings.concurrency}"
    if received != n + 1 - failed:
        note += f"; peer accepted {received}"
    if first:
        note += f"; first failure {first[:120]}"
    label = "PushEndpoint (VAPID+decrypt)" if peer_kind == "push-decrypting" else "aiohttp 201"
    return Row("push", label, n, seconds, failed, peak_rss_mb(), peer_rss, note)


def _variant_main(conn: Connection, variant: str, n: int) -> None:
    warnings.simplefilter("ignore", DeprecationWarning)  # twilio's aiohttp `auth` warning
    runs: dict[str, Callable[[], Row]] = {
        "sms-local": lambda: bench_sms(n, "local"),
        "sms-prism": lambda: bench_sms(n, "prism"),
        "letter": lambda: bench_letter(n),
        "push-decrypting": lambda: bench_push(n, "push-decrypting"),
        "push-201": lambda: bench_push(n, "push-201"),
    }
    try:
        conn.send(dataclasses.asdict(runs[variant]()))  # plain data across the pipe
    except Exception as exc:
        conn.send(f"{type(exc).__name__}: {exc}")


def run_variant(variant: str, n: int) -> Row | str:
    """One measurement in a fresh process: its peak RSS is this variant's alone."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_variant_main, args=(child, variant, n))
    proc.start()
    result: Row | str = "no result (the process died)"
    deadline = time.monotonic() + 1800
    while proc.is_alive() or parent.poll():
        if parent.poll(1):
            got = parent.recv()
            result = Row(**got) if isinstance(got, dict) else str(got)
            break
        if time.monotonic() > deadline:
            proc.kill()
            break
    proc.join(10)
    return result


def print_table(rows: Sequence[Row]) -> None:
    if not rows:
        print("no figures")
        return
    head = ("channel", "peer", "messages", "seconds", "msgs/s", "failed", "peak RSS", "peer RSS")
    cells = [
        (
            r.channel,
            r.peer,
            str(r.messages),
            f"{r.seconds:.2f}",
            f"{r.rate:,.0f}",
            str(r.failed),
            f"{r.rss_mb:.0f} MB" if r.rss_mb is not None else "-",
            f"{r.peer_rss_mb:.0f} MB" if r.peer_rss_mb is not None else "-",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(line.format(*head))
    print(line.format(*("-" * w for w in widths)))
    for c in cells:
        print(line.format(*c))
    for r in rows:
        if r.note:
            print(f"  {r.channel} / {r.peer}: {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--channel", choices=("sms", "letter", "push", "all"), default="all")
    parser.add_argument("--messages", type=int, default=None,
                        help="per channel (default: sms 2000, letter 300, push 2000)")  # fmt: skip
    parser.add_argument("--no-prism", action="store_true", help="skip SMS through Prism mock")
    parser.add_argument("--push-peer", choices=("both", "decrypting", "201"), default="both")
    args = parser.parse_args()
    if args.messages is not None and args.messages < 1:
        parser.error("--messages must be at least 1")

    channels = ("sms", "letter", "push") if args.channel == "all" else (args.channel,)
    variants: list[tuple[str, int]] = []
    for name in channels:
        n = args.messages or DEFAULT_N[name]
        if name == "sms":
            variants.append(("sms-local", n))
            if args.no_prism:
                pass
            elif PRISM.is_file() and TWILIO_SPEC.is_file():
                variants.append(("sms-prism", n))
            else:
                print(f"sms via Prism skipped: {PRISM} or {TWILIO_SPEC} missing")
        elif name == "push":
            if args.push_peer in ("both", "decrypting"):
                variants.append(("push-decrypting", n))
            if args.push_peer in ("both", "201"):
                variants.append(("push-201", n))
        else:
            variants.append((name, n))

    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; peers on 127.0.0.1")
    rows: list[Row] = []
    for variant, n in variants:
        print(f"… {variant}: {n} messages", flush=True)
        result = run_variant(variant, n)
        if isinstance(result, str):
            print(f"  {variant} failed: {result}")
        else:
            rows.append(result)
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
