"""Restart policy of supervised workers: back off, forgive a healthy run, give up only after
failing continuously for the give-up time."""

from __future__ import annotations

from incident.entrypoints.supervision import RestartPolicy


def test_crashes_back_off_exponentially_up_to_the_cap() -> None:
    policy = RestartPolicy(base_seconds=1, max_seconds=8, give_up_after_seconds=1000)
    delays = [policy.crashed(ran_for=0.1, now=t) for t in range(6)]
    assert delays == [1, 2, 4, 8, 8, 8]


def test_a_healthy_run_forgives_earlier_crashes() -> None:
    policy = RestartPolicy(base_seconds=1, healthy_after_seconds=60, give_up_after_seconds=1000)
    policy.crashed(ran_for=0.1, now=0)
    policy.crashed(ran_for=0.1, now=2)
    assert policy.crashed(ran_for=120, now=200) == 1


def test_a_worker_failing_longer_than_the_give_up_time_is_given_up() -> None:
    policy = RestartPolicy(base_seconds=1, max_seconds=30, give_up_after_seconds=100)
    assert policy.crashed(ran_for=0.5, now=10) is not None
    assert policy.crashed(ran_for=0.5, now=60) is not None
    assert policy.crashed(ran_for=0.5, now=120) is None
