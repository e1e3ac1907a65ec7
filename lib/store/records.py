"""Input records for the ledger that lib/types.py has no value object for.

The flow converts the basket/netting and allocation outputs into these before
handing them to :class:`lib.store.repository.LedgerRepository`, so the store
does not depend on how those modules shape their results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["AllocationRecord", "NettingRecord", "SampleRecord"]


@dataclass(frozen=True, slots=True)
class NettingRecord:
    """Cross-sleeve netting of one symbol.

    gross_buy / gross_sell: sum of sleeve buy / sell quantities (>= 0);
    net_quantity: signed quantity sent to the market (+ buy, - sell, 0 = fully
    crossed or dropped); crossed_quantity: matched internally between sleeves;
    benefit_notional: currency notional that did not go to the market;
    dropped_reason: e.g. ``"min_notional"`` when the net trade was dropped.
    """

    symbol: str
    gross_buy: int
    gross_sell: int
    net_quantity: int
    crossed_quantity: int
    net_intent_id: str | None = None
    dropped_reason: str | None = None
    benefit_notional: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.gross_buy < 0 or self.gross_sell < 0 or self.crossed_quantity < 0:
            raise ValueError(f"netting {self.symbol}: gross and crossed quantities must be >= 0")


@dataclass(frozen=True, slots=True)
class AllocationRecord:
    """The signed quantity of ``symbol`` a rebalance gives to ``sleeve``.

    quantity: cumulative for the rebalance (a rerun re-sends the new total,
    the ledger applies only the difference to the sleeve's position);
    price: average price per unit of the allocated quantity (market fills, or
    the arrival mid for an internal cross); source: ``"execution"`` or
    ``"internal_cross"``.
    """

    sleeve: str
    symbol: str
    quantity: int
    price: float
    source: str = "execution"
    intent_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise TypeError(f"allocation {self.sleeve}/{self.symbol}: quantity must be int")


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One market data sample of ``symbol`` at ``ts`` (domain clock, tz-aware).

    phase: ``"during"`` (seen while orders were live) or ``"after"`` (sampled
    after the run for markouts); prices in the instrument's price units;
    volume: cumulative tape volume (shares/contracts) when the broker knows it.
    """

    symbol: str
    ts: datetime
    phase: str
    bid: float | None
    ask: float | None
    mid: float | None
    last: float | None = None
    volume: int | None = None
