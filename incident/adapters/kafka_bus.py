"""Kafka at the edge: the only module that imports `kafka`.

Messages are JSON objects carrying ids only. Consumers never auto-commit: the caller commits
after its database work is committed (at-least-once; the database makes the effect exactly once).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import (
    CommitFailedError,
    KafkaError,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
)

from incident.errors import BreachNoticeError
from incident.settings import KafkaSettings

_log = structlog.get_logger()


class QueueError(BreachNoticeError, ConnectionError):
    """The Kafka cluster refused or could not be reached."""


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None  # for routing and logs; a key that is not UTF-8 has U+FFFD in it
    value: bytes
    raw_key: bytes | None = None  # as it came: parsers refuse a key that is not UTF-8

    def json(self) -> Any:
        return json.loads(self.value)


def _common(settings: KafkaSettings, bootstrap: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap.split(","),
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        options.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=settings.sasl_password,
        )
    return options


def _host_port(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    if not host or not port.isdigit():
        raise QueueError(f"kafka.bootstrap_servers: {server!r} is invalid: not host:port")
    return host.strip("[]"), int(port)


def probe_servers(bootstrap: str, *, timeout: float = 5.0) -> None:
    """QueueError in at most ~`timeout` seconds, naming every server tried, when none of the
    bootstrap servers accepts a TCP connection (before any Kafka client retries for 30 s)."""
    servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
    deadline = time.monotonic() + timeout
    tried = []
    for server in servers:
        host, port = _host_port(server)
        left = deadline - time.monotonic()
        if left <= 0:
            tried.append(f"{server} (not tried: out of time)")
            continue
        try:
            with socket.create_connection((host, port), timeout=min(left, 2.0)):
                return
        except OSError as exc:
            tried.append(f"{server} ({exc.strerror or type(exc).__name__})")
    raise QueueError(f"cannot reach Kafka: tried {', '.join(tried)}; check kafka.bootstrap_servers")


def ensure_topics(settings: KafkaSettings, bootstrap: str, partitions: Mapping[str, int]) -> None:
    """Create missing topics (a fresh local broker has none; a real cluster may already)."""
    try:
        admin = KafkaAdminClient(**_common(settings, bootstrap))
    except KafkaError as exc:
        raise QueueError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in partitions.items()
            if name not in existing
        ]
        if wanted:
            # Another process may win the race: the topic exists, which is all we need.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()


class MessageProducer:
    def __init__(self, settings: KafkaSettings, bootstrap: str) -> None:
        self._producer = KafkaProducer(
            **_common(settings, bootstrap),
            acks="all",
            linger_ms=5,
            batch_size=256 * 1024,
        )

    def _send(self, topic: str, key: str, payload: Mapping[str, Any]) -> Any:
        value = json.dumps(payload, separators=(",", ":")).encode()
        return self._producer.send(topic, key=key.encode(), value=value)

    def publish(self, topic: str, key: str, payload: Mapping[str, Any]) -> None:
        self._send(topic, key, payload)

    def publish_all(self, topic: str, items: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Send every (key, payload) and wait until the broker acknowledged all of them."""
        futures = [self._send(topic, k, v) for k, v in items]
        self.flush()
        for future in futures:
            if future.failed():
                raise QueueError(f"publishing to {topic!r} failed: {future.exception}")
        return len(futures)

    def flush(self, timeout: float = 30.0) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise QueueError(f"flushing the producer failed: {exc}") from exc

    def close(self) -> None:
        self._producer.close(timeout=10)


class MessageConsumer:
    def __init__(
        self,
        settings: KafkaSettings,
        bootstrap: str,
        *,
        group_id: str,
        topics: list[str],
        member: str | None = None,
    ) -> None:
        """`member` names this consumer within the service instance (e.g. `dispatcher-1`); with
        `settings.instance_id` set, the pair is its static group membership (KIP-345)."""
        static: dict[str, Any] = {}
        if settings.instance_id and member:
            static["group_instance_id"] = f"{settings.instance_id}-{member}"
        self._consumer = KafkaConsumer(
            *topics,
            **_common(settings, bootstrap),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_interval_ms=600_000,
            **static,
        )

    def poll(self, *, max_records: int, timeout_ms: int = 500) -> list[Record]:
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        return [
            Record(m.topic, m.partition, m.offset, _key_text(m.key), m.value, m.key)
            for records in batches.values()
            for m in records
        ]

    def commit(self) -> bool:
        """Commit the positions of everything polled so far: call after the DB commit.

        A member dropped from its group (a broker restart, a rebalance) cannot commit: that is
        not a crash. The next poll rejoins the group and the uncommitted records come again,
        to this or another member; the claims make their second handling safe. False then."""
        try:
            self._consumer.commit()
        except (CommitFailedError, RebalanceInProgressError) as exc:
            _log.warning("commit_lost_with_group", error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        return True

    def keepalive(self) -> None:
        """Tell the group this member is alive during long work between two polls: poll with
        every partition paused, which fetches nothing but counts as a poll."""
        assigned = self._consumer.assignment()
        self._consumer.pause(*assigned)
        try:
            self._consumer.poll(timeout_ms=0)
        finally:
            self._consumer.resume(*assigned)

    def close(self) -> None:
        self._consumer.close(autocommit=False)


def _key_text(key: bytes | None) -> str | None:
    """A key that is not UTF-8 must not stop the consumer: the parser dead-letters its job."""
    return key.decode("utf-8", "replace") if key else None
