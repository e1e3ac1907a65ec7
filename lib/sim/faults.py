"""Faults injectable on demand into the simulated broker.

* ``disconnect()`` / ``reconnect()``: every broker call raises BrokerDisconnected.
* ``stale_quotes(sym)``: the snapshot (prices and ts) is frozen at that moment.
* ``crossed_quotes(sym)``: snapshots show bid > ask.
* ``halt(sym)`` / ``resume(sym)``: no fills for the symbol and frozen quotes;
  the latent market keeps moving (the exogenous tape is never paused).
* ``force_partial_fills(cap)``: every single fill is at most ``cap`` units.
* ``slow_acks(extra_s)``: extra one-way latency on every message.
* ``random_rejects(rate)``: new orders rejected asynchronously with that probability.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from lib.types import MarketDataSnapshot

__all__ = ["Faults"]

SnapshotFn = Callable[[str], MarketDataSnapshot]


class Faults:
    """Fault switches; ``snapshot_fn`` gives the live snapshot to freeze."""

    def __init__(self, snapshot_fn: SnapshotFn) -> None:
        self._snapshot_fn = snapshot_fn
        self.disconnected = False
        self.crossed: set[str] = set()
        self.halted: set[str] = set()
        self.frozen: dict[str, MarketDataSnapshot] = {}  # stale or halted symbols
        self.stale: set[str] = set()
        self.partial_fill_cap: int | None = None
        self.extra_latency_s = 0.0
        self.reject_rate: float | None = None  # None: the config's rate

    def disconnect(self) -> None:
        self.disconnected = True

    def reconnect(self) -> None:
        self.disconnected = False

    def stale_quotes(self, symbol: str, on: bool = True) -> None:
        if on:
            self.frozen.setdefault(symbol, self._snapshot_fn(symbol))
            self.stale.add(symbol)
        else:
            self.stale.discard(symbol)
            if symbol not in self.halted:
                self.frozen.pop(symbol, None)

    def crossed_quotes(self, symbol: str, on: bool = True) -> None:
        if on:
            self.crossed.add(symbol)
        else:
            self.crossed.discard(symbol)

    def halt(self, symbol: str) -> None:
        self.frozen.setdefault(symbol, self._snapshot_fn(symbol))
        self.halted.add(symbol)

    def resume(self, symbol: str) -> None:
        self.halted.discard(symbol)
        if symbol not in self.stale:
            self.frozen.pop(symbol, None)

    def force_partial_fills(self, cap: int | None) -> None:
        if cap is not None and cap < 1:
            raise ValueError("partial fill cap must be >= 1 (or None to clear)")
        self.partial_fill_cap = cap

    def slow_acks(self, extra_s: float) -> None:
        if extra_s < 0:
            raise ValueError("extra latency must be >= 0")
        self.extra_latency_s = extra_s

    def random_rejects(self, rate: float | None) -> None:
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("reject rate must be in [0, 1]")
        self.reject_rate = rate

    def clear(self) -> None:
        """Switch every fault off."""
        self.disconnected = False
        self.crossed.clear()
        self.halted.clear()
        self.stale.clear()
        self.frozen.clear()
        self.partial_fill_cap = None
        self.extra_latency_s = 0.0
        self.reject_rate = None

    # ----- persistence -----
    def to_state(self) -> dict[str, Any]:
        return {
            "disconnected": self.disconnected,
            "crossed": sorted(self.crossed),
            "halted": sorted(self.halted),
            "stale": sorted(self.stale),
            "frozen": {s: _snap_to_json(v) for s, v in self.frozen.items()},
            "partial_fill_cap": self.partial_fill_cap,
            "extra_latency_s": self.extra_latency_s,
            "reject_rate": self.reject_rate,
        }

    def load_state(self, st: dict[str, Any]) -> None:
        self.disconnected = bool(st["disconnected"])
        self.crossed = set(st["crossed"])
        self.halted = set(st["halted"])
        self.stale = set(st["stale"])
        self.frozen = {s: _snap_from_json(v) for s, v in st["frozen"].items()}
        self.partial_fill_cap = st["partial_fill_cap"]
        self.extra_latency_s = float(st["extra_latency_s"])
        self.reject_rate = st["reject_rate"]


def _snap_to_json(s: MarketDataSnapshot) -> dict[str, Any]:
    return {
        "symbol": s.symbol, "bid": s.bid, "ask": s.ask, "last": s.last, "close": s.close,
        "ts": s.ts.isoformat() if s.ts else None, "bid_size": s.bid_size, "ask_size": s.ask_size,
        "volume": s.volume,
    }  # fmt: skip


def _snap_from_json(d: dict[str, Any]) -> MarketDataSnapshot:
    ts = datetime.fromisoformat(d["ts"]) if d["ts"] else None
    return MarketDataSnapshot(
        symbol=d["symbol"], bid=d["bid"], ask=d["ask"], last=d["last"], close=d["close"],
        ts=ts, bid_size=d["bid_size"], ask_size=d["ask_size"], volume=d.get("volume"),
    )  # fmt: skip
