"""The benchmark grid: instrument x side x regime x size bucket x seed.

Size buckets (SIM_SPEC "Benchmark protocol"): 0.2x and 1x top-of-book, 5x
top-of-book, 0.05%, 0.25%, 1% and 3% of ADV. Quantities are whole
shares/contracts (at least 1). Arrival times are drawn uniformly in session
seconds outside the first and last 15 minutes (``--quick`` narrows the window
to keep the cost of stepping the simulator from the open down).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from lib.instruments import InstrumentRegistry
from lib.types import Side

__all__ = [
    "BUCKETS",
    "EDGE_SECONDS",
    "FULL_INSTRUMENTS",
    "QUICK_ARRIVAL_WINDOW_S",
    "QUICK_INSTRUMENTS",
    "Bucket",
    "Cell",
    "build_grid",
    "bucket_quantity",
    "cell_seed",
]

#: Seconds kept clear of the open and of the close when drawing arrivals.
EDGE_SECONDS = 15 * 60
#: --quick: arrivals in [EDGE_SECONDS, EDGE_SECONDS + this] (stepping costs ~25 us/s).
QUICK_ARRIVAL_WINDOW_S = 600


@dataclass(frozen=True, slots=True)
class Bucket:
    """A size bucket: ``kind`` "tob" (multiple of top-of-book) or "adv" (fraction of ADV)."""

    name: str
    kind: str
    value: float


BUCKETS: tuple[Bucket, ...] = (
    Bucket("0.2xTOB", "tob", 0.2),
    Bucket("1xTOB", "tob", 1.0),
    Bucket("5xTOB", "tob", 5.0),
    Bucket("0.05%ADV", "adv", 0.0005),
    Bucket("0.25%ADV", "adv", 0.0025),
    Bucket("1.2%ADV", "adv", 0.012),  # off the 1 % slicing threshold (strict >)
    Bucket("3%ADV", "adv", 0.03),
)

FULL_INSTRUMENTS: tuple[str, ...] = (
    "SPY", "QQQ", "IWM", "TLT", "GLD", "EFA", "CSPX", "DIS", "ES", "MES", "FESX", "6E",
)  # fmt: skip
QUICK_INSTRUMENTS: tuple[str, ...] = ("SPY", "ES", "FESX")


def bucket_quantity(bucket: Bucket, top_of_book: float, adv: float) -> int:
    """Order size of ``bucket`` in shares/contracts (>= 1)."""
    base = top_of_book if bucket.kind == "tob" else adv
    return max(1, int(round(bucket.value * base)))


@dataclass(frozen=True, slots=True)
class Cell:
    """One simulated order: every policy runs it on the same market.

    ``seed`` is the simulator seed (distinct per cell and seed index, identical
    across policies); ``arrival_s`` is the arrival in session seconds.
    """

    symbol: str
    side: Side
    regime: str
    bucket: Bucket
    seed_index: int
    seed: int
    quantity: int
    arrival_s: float

    @property
    def key(self) -> str:
        return f"{self.symbol}|{self.side.value}|{self.regime}|{self.bucket.name}|{self.seed_index}"


def cell_seed(base_seed: int, symbol: str, side: Side, regime: str, bucket: str, index: int) -> int:
    """A stable 31-bit simulator seed for one cell (crc32, not Python's salted hash)."""
    text = f"{base_seed}|{symbol}|{side.value}|{regime}|{bucket}|{index}"
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def build_grid(
    registry: InstrumentRegistry,
    *,
    symbols: tuple[str, ...],
    regimes: tuple[str, ...],
    seeds: int,
    base_seed: int = 0,
    buckets: tuple[Bucket, ...] = BUCKETS,
    sides: tuple[Side, ...] = (Side.BUY, Side.SELL),
    arrival_window_s: float | None = None,
    alternate_sides: bool = False,
) -> list[Cell]:
    """Every cell of the grid. ``arrival_window_s`` None: uniform over the whole
    session minus EDGE_SECONDS at each end; else over
    ``[EDGE_SECONDS, EDGE_SECONDS + arrival_window_s]``. ``alternate_sides``:
    seed index i runs only side ``sides[i % len(sides)]`` (half the cost)."""
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    cells: list[Cell] = []
    for sym in symbols:
        inst = registry[sym]
        session = inst.session_seconds
        hi = session - EDGE_SECONDS if arrival_window_s is None else EDGE_SECONDS + arrival_window_s
        hi = min(hi, session - EDGE_SECONDS)
        for side in sides:
            for regime in regimes:
                for bucket in buckets:
                    qty = bucket_quantity(bucket, inst.profile.top_of_book, inst.profile.adv)
                    for i in range(seeds):
                        if alternate_sides and sides[i % len(sides)] is not side:
                            continue
                        seed = cell_seed(base_seed, sym, side, regime, bucket.name, i)
                        rng = np.random.default_rng(seed)
                        arrival = float(np.floor(rng.uniform(EDGE_SECONDS, hi)))
                        cells.append(Cell(sym, side, regime, bucket, i, seed, qty, arrival))
    return cells
