"""The message pacer (injected time) and the gateway-time clock."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from lib.brokers.ibkr_timing import ServerClock, TokenBucket
from lib.clock import VirtualClock
from lib.errors import BrokerDisconnected


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def send_times(bucket: TokenBucket, now: FakeTime, arrivals: list[float]) -> list[float]:
    out = []
    for a in arrivals:
        now.t = max(now.t, a)
        out.append(now.t + bucket.reserve())
    return out


def test_a_burst_of_500_never_puts_more_than_45_in_any_second() -> None:
    now = FakeTime()
    bucket = TokenBucket(45, 1.0, now)
    times = send_times(bucket, now, [100.0] * 500)
    assert times[:45] == [100.0] * 45
    assert all(b >= a for a, b in zip(times, times[1:], strict=False))
    for i, t in enumerate(times):
        assert bisect_right(times, t) - bisect_left(times, t - 1.0 + 1e-12) <= 45, i
    assert times[-1] >= 100.0 + (500 // 45) - 1  # it really had to wait


@given(st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=300), st.integers(1, 50))
def test_no_window_ever_exceeds_the_capacity(gaps: list[float], cap: int) -> None:
    now = FakeTime()
    bucket = TokenBucket(cap, 1.0, now)
    arrivals, t = [], 100.0
    for g in gaps:
        t += g / 10
        arrivals.append(t)
    sent = send_times(bucket, now, arrivals)
    assert all(s >= a for a, s in zip(arrivals, sent, strict=True))  # never before it was asked
    times = sorted(sent)
    for t in times:
        # sends inside (t - 1, t]
        assert bisect_right(times, t) - bisect_right(times, t - 1.0) <= cap


def test_server_clock_follows_a_faster_gateway_and_sleeps_in_its_time() -> None:
    local = VirtualClock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    start = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    speed = 20.0
    t0 = local.now()

    def gateway() -> datetime:  # whole seconds, like reqCurrentTime
        s = int((local.now() - t0).total_seconds() * speed)
        return start + timedelta(seconds=s)

    clock = ServerClock(gateway, local, resync_seconds=0.5, rate_window_seconds=2.0)
    assert clock.now() == start
    seen = [clock.now()]
    for _ in range(40):
        local.advance(0.1)
        seen.append(clock.now())
    assert seen == sorted(seen)  # never backwards
    assert abs(clock.rate - speed) / speed < 0.2
    before_local, before = local.now(), clock.now()
    clock.sleep(30.0)  # 30 gateway seconds ~ 1.5 local seconds at x20
    assert (clock.now() - before).total_seconds() >= 30.0
    assert (local.now() - before_local).total_seconds() < 3.0


def test_server_clock_keeps_time_while_the_gateway_is_unreachable() -> None:
    local = VirtualClock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    up = [True]

    def gateway() -> datetime:
        if not up[0]:
            raise BrokerDisconnected("down")
        return local.now()

    clock = ServerClock(gateway, local, resync_seconds=0.5)
    first = clock.now()
    up[0] = False
    local.advance(5)
    assert (clock.now() - first).total_seconds() >= 5
