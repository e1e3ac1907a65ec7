"""Recording market data samples for TCA: during a run (every quote the
supervisor reads, at most one per symbol per ``min_interval_seconds``) and
after it (markouts), on the injected clock.

After the run, :func:`sample_after` steps the clock: on the simulator's
VirtualClock ``sleep`` advances the simulated market, so +30 min of samples
cost milliseconds; on a wall clock it would really wait, so callers only use
it with a virtual clock (``is_virtual``) and record markouts later otherwise.
Tape volume comes from :func:`tape_volume` (the simulator's cumulative
exogenous volume; None for a broker without a tape).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from lib.clock import Clock, VirtualClock
from lib.store.records import SampleRecord
from lib.types import MarketDataSnapshot

__all__ = ["AFTER_RUN_SECONDS", "AFTER_STEP_SECONDS", "DURING_STEP_SECONDS", "ClockSampler",
           "SampleRecorder", "is_virtual",
           "sample_after", "tape_volume"]

#: How long after the run markouts are sampled (31 min covers +30 min), seconds.
AFTER_RUN_SECONDS = 31 * 60
#: Sampling step of :class:`ClockSampler` while orders are live, seconds.
DURING_STEP_SECONDS = 5.0
#: Sampling step after the run, seconds.
AFTER_STEP_SECONDS = 30.0


def is_virtual(clock: Clock) -> bool:
    return isinstance(clock, VirtualClock)


def tape_volume(broker: object, symbol: str) -> int | None:
    """Cumulative tape volume of ``symbol`` if the broker simulates a tape."""
    sim = getattr(broker, "sim", None)
    markets = getattr(sim, "markets", None)
    if not isinstance(markets, dict) or symbol not in markets:
        return None
    vol = getattr(markets[symbol], "volume", None)
    return int(vol) if isinstance(vol, int) else None


def _record(snap: MarketDataSnapshot, phase: str, volume: int | None,
            at: datetime | None = None) -> SampleRecord:
    ts = snap.ts or at
    if ts is None:
        raise ValueError(f"{snap.symbol}: snapshot without a timestamp")
    return SampleRecord(snap.symbol, ts, phase, snap.bid, snap.ask, snap.mid, snap.last, volume)


class SampleRecorder:
    """A market-data callable that passes snapshots through and keeps samples."""

    def __init__(
        self,
        source: Callable[[str], MarketDataSnapshot],
        volume: Callable[[str], int | None] | None = None,
        *,
        min_interval_seconds: float = 1.0,
    ) -> None:
        self._source = source
        self._volume = volume
        self._min = min_interval_seconds
        self._last: dict[str, datetime] = {}
        self.samples: list[SampleRecord] = []

    def __call__(self, symbol: str) -> MarketDataSnapshot:
        snap = self._source(symbol)
        if snap.ts is None:
            return snap
        prev = self._last.get(symbol)
        if prev is None or (snap.ts - prev).total_seconds() >= self._min:
            self._last[symbol] = snap.ts
            vol = self._volume(symbol) if self._volume else None
            self.samples.append(_record(snap, "during", vol))
        return snap


def sample_after(
    source: Callable[[str], MarketDataSnapshot],
    clock: Clock,
    symbols: Iterable[str],
    *,
    volume: Callable[[str], int | None] | None = None,
    seconds: float = AFTER_RUN_SECONDS,
    step_seconds: float = AFTER_STEP_SECONDS,
) -> list[SampleRecord]:
    """Sample every symbol now and every ``step_seconds`` for ``seconds``,
    sleeping on ``clock`` in between."""
    syms = sorted(set(symbols))
    out: list[SampleRecord] = []
    elapsed = 0.0
    while True:
        for sym in syms:
            out.append(_record(source(sym), "after", volume(sym) if volume else None, clock.now()))
        if elapsed >= seconds or not syms:
            return out
        clock.sleep(step_seconds)
        elapsed += step_seconds


class ClockSampler:
    """Samples ``symbols`` every ``step_seconds`` of a VirtualClock's time while
    attached (the simulated market moves only when the clock does, so this is
    a regular tape of the run). A failed read (an injected disconnect) is
    skipped: sampling must never fail a rebalance."""

    def __init__(
        self,
        source: Callable[[str], MarketDataSnapshot],
        symbols: Iterable[str],
        *,
        volume: Callable[[str], int | None] | None = None,
        step_seconds: float = DURING_STEP_SECONDS,
    ) -> None:
        self._source = source
        self._symbols = sorted(set(symbols))
        self._volume = volume
        self._step = step_seconds
        self._next: datetime | None = None
        self._clock: VirtualClock | None = None
        self.samples: list[SampleRecord] = []

    def _on_advance(self, start: datetime, end: datetime) -> None:
        if self._next is not None and end < self._next:
            return
        for sym in self._symbols:
            try:
                snap = self._source(sym)
                self.samples.append(_record(snap, "during", self._volume(sym) if self._volume else None,
                                            end))
            except Exception:  # noqa: BLE001 - best effort by design (see class docstring)
                continue
        self._next = end + timedelta(seconds=self._step)

    def attach(self, clock: Clock) -> None:
        if isinstance(clock, VirtualClock):
            self._clock = clock
            clock.subscribe(self._on_advance)

    def detach(self) -> None:
        if self._clock is not None:
            self._clock.unsubscribe(self._on_advance)
            self._clock = None
