"""The broker is killed (-9) mid fan-out and comes back empty on the same port: no topics, no
jobs, no committed offsets. The database still has every pending notice; the sweep refills
the queue and everybody is told exactly once."""

from __future__ import annotations

import gc
import socket
import types
from collections.abc import Iterator

import pytest

from incident.adapters.local_broker import LocalBroker
from incident.entrypoints.processes import DispatcherProcesses
from incident.service.progress import notice_counts
from tests.e2e.harness import make_settings, people, raise_for, runtime, seed
from tests.faults.pipeline import (
    assert_each_notified_once,
    assert_nobody_unreachable,
    assert_running,
    service,
    settle,
    wait_for,
)
from tests.support.faulty_smtp import FaultySMTPServer


@pytest.fixture
def own_broker() -> Iterator[LocalBroker]:
    """A broker of this test alone: killing it must not hurt the session's."""
    broker = LocalBroker().start()
    try:
        yield broker
    finally:
        broker.stop()
        _close_sockets_kafka_leaked()


def _close_sockets_kafka_leaked() -> None:
    """kafka-python 3.0 leaks the socket of every refused connect (kafka/net/inet.py
    sock_connect raises KafkaConnectionError without closing it), and the tracebacks that pin
    them live until the end of the session, where their ResourceWarning turns into an error.
    Close exactly those: sockets held by a frame of kafka/net/inet.py."""
    gc.collect()
    for obj in gc.get_objects():
        if not isinstance(obj, socket.socket) or obj.fileno() == -1:
            continue
        frames = [r for r in gc.get_referrers(obj) if isinstance(r, types.FrameType)]
        if any(f.f_code.co_filename.endswith("kafka/net/inet.py") for f in frames):
            obj.close()


def _kill_and_restart_empty(broker: LocalBroker) -> None:
    proc = broker._proc
    assert proc is not None
    proc.kill()  # SIGKILL: nothing flushed, nothing said to the clients
    proc.wait(timeout=5)
    broker._proc = None
    broker.start()  # same host and port, memory storage: empty


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_broker_killed_mid_fan_out_and_restarted_empty_is_refilled_by_the_sweep(
    sqlite_url: str, own_broker: LocalBroker, faulty_smtp: FaultySMTPServer
) -> None:
    settings = make_settings(sqlite_url, own_broker, faulty_smtp, batch_size=10)
    faulty_smtp.data_delay = 0.15  # ~25 messages a second over 4 connections: a fan-out to see
    rows = people(60)
    with runtime(settings) as rt:
        seed(rt, rows)
        with service(rt) as threads:
            incident_id = raise_for(rt, [r["id"] for r in rows])
            wait_for("the fan-out to start", lambda: len(faulty_smtp.messages) >= 8, threads)
            port = own_broker.port
            _kill_and_restart_empty(own_broker)
            assert own_broker.port == port
            sent_at_kill = len(faulty_smtp.messages)
            counts = settle(rt, incident_id, 60, threads, timeout=45)
            assert_running(threads)
        assert sent_at_kill < 60, "the broker died after the fan-out: nothing was tested"
        assert counts.sent == 60
        assert_nobody_unreachable(rt.engine, incident_id, 60)
    assert_each_notified_once(faulty_smtp, [r["email"] for r in rows])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_dispatcher_processes_ride_out_a_broker_restarted_empty_without_dying(
    sqlite_url: str, own_broker: LocalBroker, faulty_smtp: FaultySMTPServer
) -> None:
    """Kicked out of their group by the restart, they rejoin (same PIDs): no commit failure
    ends a dispatcher process."""
    settings = make_settings(sqlite_url, own_broker, faulty_smtp, batch_size=10)
    faulty_smtp.data_delay = 0.15
    rows = people(60)
    with runtime(settings) as rt:
        seed(rt, rows)
        procs = DispatcherProcesses(rt, 2).start()
        try:
            with service(rt, dispatchers=0) as threads:
                incident_id = raise_for(rt, [r["id"] for r in rows])
                wait_for("the fan-out to start", lambda: len(faulty_smtp.messages) >= 8, threads)
                pids = [p.pid for p in procs._procs]
                _kill_and_restart_empty(own_broker)

                def settled_alive() -> bool:
                    assert procs.supervise()
                    return notice_counts(rt.engine, incident_id).done

                wait_for("60 notices to settle", settled_alive, threads, timeout=90)
                assert [p.pid for p in procs._procs] == pids
                assert all(p.is_alive() for p in procs._procs), "a dispatcher process died"
        finally:
            codes = procs.stop(timeout=30)
        assert codes == [0, 0]
        assert_nobody_unreachable(rt.engine, incident_id, 60)
    assert_each_notified_once(faulty_smtp, [r["email"] for r in rows])
