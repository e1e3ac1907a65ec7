"""Time for the execution stack: the Clock protocol and its two implementations.

Nothing else in ``lib/`` reads the wall clock or sleeps: everything takes a
:class:`Clock`. :class:`SystemClock` is real time; :class:`VirtualClock` only
moves when someone sleeps on it, and tells its listeners (the market simulator)
so that a 120 s order TTL runs in milliseconds and tests are deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock", "AdvanceListener"]

#: Called as ``listener(start, end)`` each time a VirtualClock advances.
AdvanceListener = Callable[[datetime, datetime], None]


@runtime_checkable
class Clock(Protocol):
    """A source of time. ``now()`` is tz-aware UTC; ``sleep`` takes seconds."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real wall clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that advances only on :meth:`sleep` / :meth:`advance`.

    Listeners registered with :meth:`subscribe` are called with the interval
    ``(start, end]`` after every advance, in registration order; the simulator
    uses this to step the market over exactly the time that passed.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock start must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._listeners: list[AdvanceListener] = []

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0) and notify listeners."""
        if seconds < 0:
            raise ValueError(f"cannot advance a clock backwards ({seconds} s)")
        if seconds == 0:
            return
        start = self._now
        self._now = start + timedelta(seconds=seconds)
        for listener in self._listeners:
            listener(start, self._now)

    def advance_to(self, when: datetime) -> None:
        """Advance to ``when`` (no-op if it is not in the future)."""
        delta = (when - self._now).total_seconds()
        if delta > 0:
            self.advance(delta)

    def subscribe(self, listener: AdvanceListener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: AdvanceListener) -> None:
        self._listeners.remove(listener)
