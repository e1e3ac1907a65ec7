"""Cross-sleeve netting, execution priority, min-notional filter, netting
benefit, and allocation of fills back to the sleeves.

Units: quantities are ints (shares/contracts), signed + buy / - sell where
named ``signed_*``; prices per unit in the quote currency; notionals
``price * |qty| * multiplier`` via :meth:`lib.types.Instrument.notional`.

Netting. Each sleeve's intents in one symbol are first summed into one signed
request per (sleeve, symbol) (a sleeve that buys 100 and sells 30 asks for
+70). The sleeves' requests are then summed into one signed net per symbol;
the net becomes ONE intent for the market (``sleeve=None``); the rest of the
requests offset each other and are an *internal cross* booked at the arrival
mid by :meth:`BasketExecutor.allocate` (the arithmetic is in lib/allocation.py).

Min notional. A net whose notional is below ``min_trade_notional_usd`` is
dropped and reported (:class:`DroppedTrade`); its sleeves' requests stay in the
result as unexecuted. Notionals (the filter, the benefit, the dropped trades)
are in the base currency: ``fx`` maps a currency to base units per unit (FESX
in EUR at 1.08). A currency without a rate is never dropped on notional (it
cannot be valued; pre-trade risk blocks it with the FX reason) and adds 0 to
the benefit's notionals. Without ``fx`` only the base currency has a rate.

Priority. Net intents are ordered FUT, FX_FUT, ETFs by ADV notional
(``adv * price * multiplier``, descending), then STK; ties by symbol. Futures
hedge the book's beta/currency exposure fastest and cheapest (tightest spreads
in bps, deepest books), so they go first and the slower cash legs trade
against an already-hedged book; among ETFs the most liquid complete first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TypeVar

# Allocation lives in lib/allocation.py (SleeveAllocation and largest_remainder
# are re-exported here, where callers of the seed's API look for them).
from lib.allocation import (
    SleeveAllocation,
    checked_execution,
    checked_mid,
    largest_remainder,
    split_symbol,
)
from lib.config import ExecutionConfig
from lib.errors import InputError
from lib.fx import BASE_CURRENCY
from lib.instruments import InstrumentRegistry
from lib.netting import (
    DroppedTrade,
    NetStatus,
    NettingBenefit,
    NettingResult,
    SleeveRequest,
    SymbolBenefit,
    SymbolNetting,
)
from lib.types import AssetClass, Instrument, OrderIntent, PolicyMode, Side

__all__ = [
    "BasketExecutor",
    "DroppedTrade",
    "NetStatus",
    "NettingBenefit",
    "NettingResult",
    "SleeveAllocation",
    "SleeveRequest",
    "SymbolBenefit",
    "SymbolNetting",
    "largest_remainder",
    "netting_savings_qty",
    "priority_key",
]

# Asset-class rank for execution priority (lower trades first).
_CLASS_RANK: Mapping[AssetClass, int] = MappingProxyType(
    {AssetClass.FUT: 0, AssetClass.FX_FUT: 1, AssetClass.ETF: 2, AssetClass.STK: 3}
)

DROP_REASON_MIN_NOTIONAL = "below_min_notional"


def priority_key(inst: Instrument) -> tuple[int, float, str]:
    """Sort key: FUT, FX_FUT, ETF by ADV notional descending, STK; then symbol."""
    rank = _CLASS_RANK.get(inst.asset_class, len(_CLASS_RANK))
    adv_notional = inst.profile.adv * inst.profile.price * inst.multiplier
    return rank, (-adv_notional if inst.asset_class is AssetClass.ETF else 0.0), inst.symbol


def netting_savings_qty(result: NettingResult) -> int:
    """Units not traded thanks to netting (the seed's execution_netting_savings_qty)."""
    return result.benefit.qty_saved


_T = TypeVar("_T")


def _agreed(values: Sequence[_T]) -> _T | None:
    """The common value if every element is the same, else None."""
    first = values[0]
    return first if all(v == first for v in values[1:]) else None


class BasketExecutor:
    """Nets sleeve intents into market intents and allocates fills back."""

    def __init__(
        self,
        config: ExecutionConfig,
        instruments: InstrumentRegistry,
        fx: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        self.instruments = instruments
        self.fx = {BASE_CURRENCY: 1.0, **(fx or {})}

    # -- netting --------------------------------------------------------------------

    def net_trades(
        self,
        intents: Sequence[OrderIntent],
        prices: Mapping[str, float],
        rebalance_id: str = "",
    ) -> NettingResult:
        """Net per-sleeve ``intents`` (``sleeve`` set) into one intent per symbol.

        ``prices``: a reference price per symbol (quote currency per unit) for
        notionals; required for every symbol with a non-zero request.
        Net intent ids are ``f"{rebalance_id or 'net'}:{symbol}"``.
        """
        by_symbol: dict[str, list[OrderIntent]] = {}
        for row, intent in enumerate(intents, start=1):
            self._check_intent(row, intent)
            by_symbol.setdefault(intent.symbol, []).append(intent)

        prefix = rebalance_id or "net"
        breakdown: dict[str, SymbolNetting] = {}
        benefits: dict[str, SymbolBenefit] = {}
        executable: list[tuple[Instrument, OrderIntent]] = []
        dropped: list[DroppedTrade] = []

        for symbol in sorted(by_symbol):
            group = by_symbol[symbol]
            inst = self.instruments[symbol]
            requests = _sleeve_requests(symbol, group)
            gross = sum(r.quantity for r in requests)
            net = sum(r.signed_quantity for r in requests)
            price = self._price(symbol, prices) if gross else float(prices.get(symbol, 0.0))
            rate = self.fx.get(inst.currency)
            net_notional = inst.notional(price, net) * (rate or 0.0)
            benefits[symbol] = SymbolBenefit.of(inst, price, gross, net, rate or 0.0)
            intent_id: str | None = None
            if net == 0:
                status = NetStatus.FLAT
            elif rate is not None and net_notional < self.config.min_trade_notional_usd:
                status = NetStatus.DROPPED
                dropped.append(
                    DroppedTrade(
                        symbol,
                        Side.from_signed(net),
                        abs(net),
                        net_notional,
                        DROP_REASON_MIN_NOTIONAL,
                        requests,
                    )
                )
            else:
                status = NetStatus.EXECUTE
                intent_id = f"{prefix}:{symbol}"
                executable.append((inst, self._net_intent(intent_id, inst, net, group)))
            breakdown[symbol] = SymbolNetting(
                symbol, inst.asset_class, price, requests, net, net_notional, status, intent_id
            )

        executable.sort(key=lambda pair: priority_key(pair[0]))
        return NettingResult(
            net_intents=tuple(intent for _, intent in executable),
            dropped=tuple(dropped),
            breakdown=MappingProxyType(breakdown),
            benefit=NettingBenefit.of(MappingProxyType(benefits)),
            rebalance_id=rebalance_id,
        )

    def _check_intent(self, row: int, intent: OrderIntent) -> None:
        if not intent.sleeve:
            raise InputError("intents", row, "sleeve", f"{intent.intent_id}: sleeve must be set")
        inst = self.instruments[intent.symbol]  # raises UnknownInstrument
        if intent.asset_class is not None and intent.asset_class is not inst.asset_class:
            raise InputError(
                "intents",
                row,
                "asset_class",
                f"{intent.intent_id}: {intent.asset_class} disagrees with the registry "
                f"({inst.asset_class}) for {intent.symbol}",
            )

    @staticmethod
    def _price(symbol: str, prices: Mapping[str, float]) -> float:
        price = prices.get(symbol)
        if price is None or not math.isfinite(price) or price <= 0:
            raise InputError("prices", None, symbol, f"need a finite price > 0, got {price!r}")
        return float(price)

    @staticmethod
    def _net_intent(
        intent_id: str, inst: Instrument, net: int, group: Sequence[OrderIntent]
    ) -> OrderIntent:
        # pair_group / mode / urgency ride along only when every contributing
        # intent agrees: a conflicting request has no single right answer.
        mode: PolicyMode | None = _agreed([i.mode for i in group])
        return OrderIntent(
            intent_id=intent_id,
            symbol=inst.symbol,
            side=Side.from_signed(net),
            quantity=abs(net),
            sleeve=None,
            asset_class=inst.asset_class,
            pair_group=_agreed([i.pair_group for i in group]),
            urgency=_agreed([i.urgency for i in group]) or "normal",
            mode=mode,
        )

    # -- allocation -----------------------------------------------------------------

    def allocate(
        self,
        result: NettingResult,
        executions: Mapping[str, tuple[int, float | None]],
        arrival_mids: Mapping[str, float],
    ) -> list[SleeveAllocation]:
        """Give each sleeve its share, ordered by symbol then sleeve.

        ``executions``: symbol -> (filled quantity of the net intent, average
        fill price or None); a missing executed symbol counts as unfilled.
        ``arrival_mids``: symbol -> mid at arrival, the internal cross price
        (required wherever a cross happens).

        Sleeves opposite to the net (minority side) are fully crossed. Sleeves
        on the net side share the crossed units and then the net fills pro-rata
        to what each still needs (largest remainder), so a full fill gives each
        sleeve exactly its request and nothing is lost or invented. A dropped
        symbol allocates only its cross; its residual stays unfilled.
        """
        for symbol in executions:
            if symbol not in result.breakdown:
                raise InputError("executions", None, symbol, "symbol was not in the netting result")
        out: list[SleeveAllocation] = []
        for symbol, sn in result.breakdown.items():
            limit = abs(sn.net_signed_quantity) if sn.status is NetStatus.EXECUTE else 0
            filled, fill_price = checked_execution(
                symbol, executions.get(symbol), limit, sn.status.value
            )
            mid = checked_mid(symbol, arrival_mids) if sn.crossed_quantity else None
            out.extend(
                split_symbol(sn.requests, sn.net_signed_quantity, sn.crossed_quantity,
                             filled, fill_price, mid)
            )
        return out



def _sleeve_requests(symbol: str, group: Sequence[OrderIntent]) -> tuple[SleeveRequest, ...]:
    """Sum each sleeve's intents into one signed request, sorted by sleeve."""
    signed: dict[str, int] = {}
    ids: dict[str, list[str]] = {}
    for intent in group:
        sleeve = intent.sleeve or ""
        signed[sleeve] = signed.get(sleeve, 0) + intent.signed_quantity
        ids.setdefault(sleeve, []).append(intent.intent_id)
    return tuple(SleeveRequest(s, symbol, signed[s], tuple(ids[s])) for s in sorted(signed))
