"""Commission schedule of the simulated broker (IBKR tiered, approximated).

* ETF / STK: $0.0035 per share, at least $0.35 and at most 1% of the trade
  value per order (IBKR US tiered, lowest volume tier, exchange fees ignored).
* FUT / FX_FUT: $0.85 per contract (IBKR's lowest-tier commission for US
  futures, exchange and regulatory fees ignored).

The minimum and the cap apply per order, so each fill is charged the increase
of the order's cumulative commission: fills of one order sum to the per-order
amount. Amounts are in the instrument's currency.
"""

from __future__ import annotations

from lib.types import AssetClass

__all__ = ["FUT_PER_CONTRACT", "STK_MAX_FRAC", "STK_MIN", "STK_PER_SHARE", "order_commission"]

STK_PER_SHARE = 0.0035
STK_MIN = 0.35
STK_MAX_FRAC = 0.01
FUT_PER_CONTRACT = 0.85


def order_commission(asset_class: AssetClass, filled_qty: int, filled_notional: float) -> float:
    """Cumulative commission of an order with ``filled_qty`` units filled for
    ``filled_notional`` (currency). 0 when nothing filled."""
    if filled_qty <= 0:
        return 0.0
    if asset_class in (AssetClass.FUT, AssetClass.FX_FUT):
        return round(FUT_PER_CONTRACT * filled_qty, 6)
    fee = max(STK_MIN, STK_PER_SHARE * filled_qty)
    return round(min(fee, STK_MAX_FRAC * abs(filled_notional)), 6)
