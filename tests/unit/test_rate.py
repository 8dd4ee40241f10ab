"""The token bucket per (channel, sender), with a fake clock: rate kept, 429 slows it down."""

from __future__ import annotations

import heapq

import pytest

from incident.domain.rate import TokenBucket, per_process


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(bucket: TokenBucket, clock: FakeClock, *, until: float, workers: int) -> list[float]:
    """`workers` senders, each reserving a token and sending when it is due; send times."""
    sends: list[float] = []
    ready = [(clock.now, w) for w in range(workers)]  # when each worker asks for its next token
    heapq.heapify(ready)
    while ready:
        at, w = heapq.heappop(ready)
        if at >= until:
            continue
        clock.now = at
        send_at = at + bucket.reserve()
        if send_at < until:
            sends.append(send_at)
            heapq.heappush(ready, (send_at, w))  # the provider call itself takes no time here
    return sends


@pytest.mark.parametrize("workers", [1, 8, 64])
def test_the_configured_rate_is_kept_over_two_seconds_within_ten_percent(workers: int) -> None:
    """However many senders share the bucket, two seconds carry 2 × rate messages (±10 %)."""
    clock = FakeClock()
    bucket = TokenBucket(100.0, burst=10.0, clock=clock)
    sends = simulate(bucket, clock, until=2.0, workers=workers)
    assert 180 <= len(sends) <= 220
    # and no one-second window anywhere holds more than rate + burst
    sends.sort()
    assert max(sum(1 for t in sends if s <= t < s + 1.0) for s in sends) <= 110


def test_a_429_halves_the_rate_then_it_recovers_gradually() -> None:
    """slow_down(0.5) on a 429; the rate climbs back linearly to the configured one."""
    clock = FakeClock()
    bucket = TokenBucket(100.0, burst=1.0, clock=clock, recovery=0.1)
    simulate(bucket, clock, until=1.0, workers=4)
    clock.now = 1.0
    assert bucket.slow_down(0.5)
    assert bucket.current == pytest.approx(50.0)
    clock.now = 1.5
    assert not bucket.slow_down(0.5)  # the same 429 seen by every message in flight: once
    assert bucket.current == pytest.approx(50.0, abs=0.1)
    sent_next_second = simulate(bucket, clock, until=2.5, workers=4)
    assert 45 <= len(sent_next_second) <= 70  # ~50/s rising towards 60/s over that second
    clock.now = 10.0
    bucket.reserve()
    assert bucket.current == pytest.approx(100.0)  # five seconds at 10 %/s: fully recovered


def test_slowing_down_stops_at_the_floor() -> None:
    clock = FakeClock()
    bucket = TokenBucket(64.0, clock=clock, floor=1 / 8, cooldown=0.0)
    for _ in range(10):
        bucket.slow_down(0.5)
    assert bucket.current == pytest.approx(8.0)


def test_a_rate_shared_by_n_processes_is_divided_among_them() -> None:
    assert per_process(90.0, 3) == 30.0
    assert per_process(None, 3) is None
    assert per_process(10.0, 0) == 10.0


def test_an_impossible_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        TokenBucket(0.0)
