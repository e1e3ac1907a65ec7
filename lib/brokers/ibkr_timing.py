"""Time at the IB edge: the message pacer and the gateway-time clock.

:class:`TokenBucket` keeps orders + cancels + modifies under IB's 50 messages
per second (default at most 45 in any one-second window): each message books
a slot, and ``reserve()`` says how long to wait before sending. Its time source is
injected (the transport passes its event loop's ``time``; tests a fake).

:class:`ServerClock` is a :class:`lib.clock.Clock` whose ``now()`` is the
gateway's time as ``reqCurrentTime`` reports it (whole epoch seconds), so an
OrderManager's TTLs run in a simulated gateway's virtual session. Between
samples it interpolates on the local clock at the measured rate (virtual
seconds per wall second), never goes backwards, and ``sleep(s)`` waits on the
local clock until the gateway's time has advanced by ``s``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from lib.clock import Clock
from lib.errors import BrokerError

__all__ = ["ServerClock", "TokenBucket"]


class TokenBucket:
    """At most ``max_per_window`` sends in any ``window_seconds`` (a sliding
    window: stricter than a refilling bucket, whose burst plus refill could
    put ``burst + rate`` messages into one second). ``now()`` in seconds."""

    def __init__(self, max_per_window: float, window_seconds: float, now: Callable[[], float]) -> None:
        if max_per_window < 1 or window_seconds <= 0:
            raise ValueError(f"need max_per_window >= 1 and window_seconds > 0 (got {max_per_window}, {window_seconds})")
        self.capacity = int(max_per_window)
        self.window = window_seconds
        self._now = now
        self._sent: deque[float] = deque()  # scheduled send times, non-decreasing

    def reserve(self) -> float:
        """Book the next send; returns the seconds to wait before it (0 = now).

        Sends are scheduled first come first served; the n-th send inside a
        full window waits until the oldest of the window is ``window_seconds``
        old, so no window ``(t - window, t]`` ever holds more than ``capacity``."""
        t = self._now()
        while self._sent and self._sent[0] <= t - self.window:
            self._sent.popleft()
        at = t if not self._sent else max(t, self._sent[-1])
        if len(self._sent) >= self.capacity:
            at = max(at, self._sent[-self.capacity] + self.window)
        self._sent.append(at)
        return at - t


class ServerClock:
    """The gateway's clock. ``fetch()`` asks the gateway for its time (tz-aware);
    ``local`` is the machine's clock (SystemClock in production).

    resync_seconds: local seconds between gateway samples (a ``reqCurrentTime``
    round trip each); the rate is measured between the first sample and the
    latest once they are ``rate_window_seconds`` of local time apart."""

    def __init__(
        self,
        fetch: Callable[[], datetime],
        local: Clock,
        *,
        resync_seconds: float = 1.0,
        rate_window_seconds: float = 2.0,
        max_wait_step_seconds: float = 0.25,
    ) -> None:
        self._fetch = fetch
        self._local = local
        self._resync = resync_seconds
        self._window = rate_window_seconds
        self._step = max_wait_step_seconds
        self._first: tuple[datetime, datetime] | None = None  # (local, server)
        self._last: tuple[datetime, datetime] | None = None
        self.rate = 1.0  # gateway seconds per local second
        self._returned: datetime | None = None

    def _sample(self) -> None:
        try:
            server = self._fetch()
        except BrokerError:
            if self._last is None:
                raise
            return  # gateway unreachable: keep interpolating from the last sample
        self.observe(server)

    def observe(self, server: datetime) -> None:
        """Record a gateway time just received (also from async code that asked itself)."""
        local = self._local.now()
        if self._first is None:
            self._first = (local, server)
        self._last = (local, server)
        dl = (local - self._first[0]).total_seconds()
        if dl >= self._window:
            ds = (server - self._first[1]).total_seconds()
            if ds > 0:
                self.rate = ds / dl

    def peek(self) -> datetime:
        """The current estimate without asking the gateway (the local clock
        before the first sample); safe on the transport's event loop."""
        local = self._local.now()
        if self._last is None:
            return local
        est = self._last[1] + timedelta(seconds=(local - self._last[0]).total_seconds() * self.rate)
        return max(est, self._returned) if self._returned is not None else est

    def now(self) -> datetime:
        local = self._local.now()
        if self._last is None or (local - self._last[0]).total_seconds() >= self._resync:
            before = self._last
            self._sample()
            local = self._local.now()
            if before is not None and self._last is before:
                # no new sample: stop asking until the next resync period
                self._last = (local, before[1] + timedelta(
                    seconds=(local - before[0]).total_seconds() * self.rate))
        assert self._last is not None
        # whole-second samples: the true time is in [sample, sample + 1 s)
        est = self._last[1] + timedelta(seconds=(local - self._last[0]).total_seconds() * self.rate)
        if self._returned is not None and est < self._returned:
            est = self._returned
        self._returned = est
        return est

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        target = self.now() + timedelta(seconds=seconds)
        while True:
            left = (target - self.now()).total_seconds()
            if left <= 0:
                return
            self._local.sleep(min(self._step, left / max(self.rate, 1e-6)))
