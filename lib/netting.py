"""The records of cross-sleeve netting: per-sleeve requests, per-symbol nets,
dropped trades, the netting benefit and the whole result.

Quantities are ints (shares/contracts), signed + buy / - sell where named
``signed_*``; notionals in the base currency. Produced by
:class:`lib.basket.BasketExecutor` (which re-exports every name here).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lib.types import AssetClass, Instrument, OrderIntent, Side

__all__ = [
    "DroppedTrade",
    "NetStatus",
    "NettingBenefit",
    "NettingResult",
    "SleeveRequest",
    "SymbolBenefit",
    "SymbolNetting",
]


class NetStatus(StrEnum):
    """What happened to a symbol's net."""

    EXECUTE = "execute"  # one net intent goes to the market
    FLAT = "flat"  # the sleeves cancel exactly: nothing to trade
    DROPPED = "dropped"  # net below min notional: reported, not traded


@dataclass(frozen=True, slots=True)
class SleeveRequest:
    """One sleeve's summed request in one symbol (signed: + buy, - sell)."""

    sleeve: str
    symbol: str
    signed_quantity: int
    intent_ids: tuple[str, ...]

    @property
    def quantity(self) -> int:
        return abs(self.signed_quantity)

    @property
    def side(self) -> Side | None:
        """None when the sleeve's intents cancel out."""
        return None if self.signed_quantity == 0 else Side.from_signed(self.signed_quantity)


@dataclass(frozen=True, slots=True)
class SymbolNetting:
    """Which sleeves asked what in one symbol, and the net (requests sorted by sleeve)."""

    symbol: str
    asset_class: AssetClass
    price: float
    requests: tuple[SleeveRequest, ...]
    net_signed_quantity: int
    net_notional: float
    status: NetStatus
    net_intent_id: str | None = None

    @property
    def buy_quantity(self) -> int:
        return sum(r.signed_quantity for r in self.requests if r.signed_quantity > 0)

    @property
    def sell_quantity(self) -> int:
        return -sum(r.signed_quantity for r in self.requests if r.signed_quantity < 0)

    @property
    def crossed_quantity(self) -> int:
        """Units that buyers and sellers take from each other internally."""
        return min(self.buy_quantity, self.sell_quantity)


@dataclass(frozen=True, slots=True)
class DroppedTrade:
    """A net trade not sent because its notional was below the minimum.
    ``requests`` are the sleeves' requests left unexecuted (beyond their cross)."""

    symbol: str
    side: Side
    quantity: int
    notional: float
    reason: str
    requests: tuple[SleeveRequest, ...]

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity


@dataclass(frozen=True, slots=True)
class SymbolBenefit:
    """Netting benefit in one symbol. gross = sum over sleeves of |request|;
    net = |sum of requests| (before the min-notional filter); saving_ratio =
    qty_saved / gross_qty (0 when nothing was requested)."""

    symbol: str
    gross_qty: int
    net_qty: int
    qty_saved: int
    gross_notional: float
    net_notional: float
    notional_saved: float
    saving_ratio: float

    @classmethod
    def of(
        cls, inst: Instrument, price: float, gross: int, net: int, rate: float = 1.0
    ) -> SymbolBenefit:
        """``rate``: base-currency units per unit of the instrument's currency."""
        gross_n = inst.notional(price, gross) * rate
        net_n = inst.notional(price, net) * rate
        ratio = (gross - abs(net)) / gross if gross else 0.0
        return cls(
            inst.symbol, gross, abs(net), gross - abs(net), gross_n, net_n, gross_n - net_n, ratio
        )


@dataclass(frozen=True, slots=True)
class NettingBenefit:
    """Per-symbol and total netting benefit. Totals add quantities across
    instruments (shares and contracts, as the seed's metric does); the total
    saving_ratio is notional-weighted (notional_saved / gross_notional), the
    only meaningful total."""

    per_symbol: Mapping[str, SymbolBenefit]
    gross_qty: int
    net_qty: int
    qty_saved: int
    gross_notional: float
    net_notional: float
    notional_saved: float
    saving_ratio: float

    @classmethod
    def of(cls, per_symbol: Mapping[str, SymbolBenefit]) -> NettingBenefit:
        items = per_symbol.values()
        gross, net = sum(b.gross_qty for b in items), sum(b.net_qty for b in items)
        gross_n = math.fsum(b.gross_notional for b in items)
        net_n = math.fsum(b.net_notional for b in items)
        ratio = (gross_n - net_n) / gross_n if gross_n > 0 else 0.0
        return cls(per_symbol, gross, net, gross - net, gross_n, net_n, gross_n - net_n, ratio)


@dataclass(frozen=True, slots=True)
class NettingResult:
    """Output of :meth:`BasketExecutor.net_trades`.

    net_intents: in execution priority order; dropped: nets below min notional;
    breakdown: symbol -> :class:`SymbolNetting` for every symbol requested.
    """

    net_intents: tuple[OrderIntent, ...]
    dropped: tuple[DroppedTrade, ...]
    breakdown: Mapping[str, SymbolNetting]
    benefit: NettingBenefit
    rebalance_id: str = ""

    @property
    def unexecuted(self) -> tuple[SleeveRequest, ...]:
        """Sleeve requests whose net was dropped (only their cross part fills)."""
        return tuple(r for d in self.dropped for r in d.requests)
