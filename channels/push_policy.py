"""Which Web Push endpoints we POST to: the push services' hosts only, never an inner address.

A subscription's endpoint comes from outside (a browser, a directory export), so it is a request
forgery waiting to happen: `https://169.254.169.254/…`, `https://10.0.0.5:5432/…`. The policy:

- the host must be on the allow-list (`[channels.push] allowed_hosts`): an exact name, or
  `*.suffix` for any name under it (not the suffix itself); an entry may name its port
  (`host:8443`, or `host:*` for any), else only `allowed_ports` (443) are allowed;
- https only; plain http only for a loopback address listed by IP (a test's push service);
- no credentials in the URL;
- an IP address as host must be public, unless it is listed as such (the operator chose it);
- at connect time every address a name resolves to must be public (`PublicResolver`), so a
  listed name that DNS rebinds to an inner address is refused where it is connected to;
- redirects are never followed (the channel posts with `allow_redirects=False`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

# The push services of the browsers (Chrome/Edge on Android and desktop: FCM; Firefox: Mozilla;
# Edge/Windows: WNS; Safari: Apple). config/defaults.toml repeats these.
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.notify.windows.com",
    "web.push.apple.com",
    "*.push.apple.com",
)
DEFAULT_PUSH_PORTS = (443,)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EndpointRefused(OSError):
    """A push endpoint the policy refuses at connect time (a name resolving inward)."""


@dataclass(frozen=True)
class _Entry:
    host: str  # lower case, no trailing dot; "*.suffix" for a wildcard
    port: int | None  # None: the policy's ports; -1: any port

    def matches(self, host: str) -> bool:
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host


def _entry(text: str) -> _Entry:
    raw = text.strip().lower()
    host, port = raw, None
    if raw.startswith("["):  # [::1]:443
        close = raw.find("]")
        host, rest = raw[1:close], raw[close + 1 :]
        port = _port(rest[1:]) if rest.startswith(":") else None
    elif raw.count(":") == 1:
        host, _, given = raw.partition(":")
        port = _port(given)
    if not host:
        raise ValueError(f"allowed_hosts entry {text!r} names no host")
    return _Entry(host.rstrip("."), port)


def _port(text: str) -> int:
    if text == "*":
        return -1
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"allowed_hosts port {text!r} is not a port number or *")
    return int(text)


def ip_of(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def is_public(ip: IPAddress) -> bool:
    """A globally routable unicast address (no loopback, private, link-local, CGNAT, ULA…)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class EndpointPolicy:
    """The allow-list of push services and the rules above; `problem` never echoes the URL."""

    def __init__(
        self,
        hosts: Iterable[str] = DEFAULT_PUSH_HOSTS,
        ports: Iterable[int] = DEFAULT_PUSH_PORTS,
    ) -> None:
        self._entries = tuple(_entry(h) for h in hosts)
        self._ports = frozenset(ports)

    def problem(self, endpoint: str) -> str | None:
        try:
            url = urlsplit(endpoint)
            port = url.port
        except ValueError:
            return "endpoint is not a usable URL"
        host = (url.hostname or "").rstrip(".")
        if url.scheme not in ("https", "http") or not host:
            return "endpoint is not an https URL"
        if url.username is not None or url.password is not None:
            return "endpoint carries credentials"
        return self._host_problem(url, host, port)

    def _host_problem(self, url: SplitResult, host: str, port: int | None) -> str | None:
        entry = next((e for e in self._entries if e.matches(host)), None)
        if entry is None:
            return "endpoint is not on a known push service (channels.push.allowed_hosts)"
        ip = ip_of(host)
        listed_ip = ip is not None and not entry.host.startswith("*.")
        if ip is not None and not is_public(ip) and not listed_ip:
            return "endpoint is not a public address"
        if url.scheme == "http" and not (listed_ip and ip is not None and ip.is_loopback):
            return "endpoint is not https (plain http only for a listed loopback address)"
        used = port if port is not None else (443 if url.scheme == "https" else 80)
        allowed = entry.port == -1 or used == entry.port
        if not allowed and not (entry.port is None and used in self._ports):
            return "endpoint port is not allowed (channels.push.allowed_ports)"
        return None

    def trusts_address(self, host: str) -> bool:
        """`host` is an IP address listed as such: its inner address is the operator's choice."""
        host = host.lower().rstrip(".")
        return ip_of(host) is not None and any(e.host == host for e in self._entries)


class PublicResolver(AbstractResolver):
    """Resolves as usual, then refuses a name any of whose addresses is not public: the
    address checked is the address connected to, so DNS rebinding cannot slip inward."""

    def __init__(self, policy: EndpointPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if self._policy.trusts_address(host):
            return found
        for result in found:
            ip = ip_of(str(result["host"]))
            if ip is None or not is_public(ip):
                raise EndpointRefused("push endpoint host resolves to a non-public address")
        return found

    async def close(self) -> None:
        await self._inner.close()


class NoRedirects:
    """What pywebpush needs of a session (`post`), posting without following redirects."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def post(self, url: str, **kwargs: Any) -> Any:
        return await self._session.post(url, allow_redirects=False, **kwargs)
