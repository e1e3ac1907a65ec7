"""IB's order checks as the gateway applies them, each with IB's error code.

* 200 no security definition; 201 order rejected (bad size / side / type,
  MOC/LOC after the closing-auction cutoff, margin); 202 order cancelled
  (limit too far through the market: IB's precautionary price check);
  110 price not on the contract's tick; 113 MOC/LOC with a TIF other than DAY;
  103 duplicate order id.
* Closing auctions (ET, from the exchange's close of the day, so half days
  shift with it): NYSE/ARCA entry until close - 10 min, cancels until close -
  2 min; Nasdaq entry until close - 5 min, cancel/modify until close - 10 min.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lib.calendars import get_market_calendar
from lib.types import Instrument

__all__ = ["Refusal", "auction_cutoff", "check_auction", "check_price", "check_shape"]

_NY = ZoneInfo("America/New_York")
AUCTION_TYPES = frozenset({"MOC", "LOC"})
ORDER_TYPES = frozenset({"LMT", "MKT", "MOC", "LOC"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """An IB error code and its message."""

    code: int
    message: str


def _close(now: datetime) -> datetime:
    session = get_market_calendar("NYSE").session(now.astimezone(_NY).date())
    if session is not None:
        return session[1]
    d = now.astimezone(_NY)
    return d.replace(hour=16, minute=0, second=0, microsecond=0)


def auction_cutoff(inst: Instrument, now: datetime, *, entry: bool) -> datetime:
    """Last instant (UTC) at which a MOC/LOC may be entered (``entry``) or
    cancelled/modified on the instrument's listing exchange."""
    close = _close(now)
    nasdaq = inst.exchange == "NASDAQ"
    if entry:
        return close - timedelta(minutes=5 if nasdaq else 10)
    return close - timedelta(minutes=10 if nasdaq else 2)


def check_shape(action: str, quantity: float, order_type: str, lmt: float | None, tif: str) -> Refusal | None:
    if action not in ("BUY", "SELL"):
        return Refusal(201, f"Order rejected - reason:Invalid action {action!r}")
    if not math.isfinite(quantity) or quantity <= 0 or quantity != int(quantity):
        return Refusal(201, f"Order rejected - reason:The order size {quantity:g} must be a positive whole number")
    if order_type not in ORDER_TYPES:
        return Refusal(201, f"Order rejected - reason:Order type {order_type!r} is not supported")
    if order_type in ("LMT", "LOC") and lmt is None:
        return Refusal(201, f"Order rejected - reason:A {order_type} order needs a limit price")
    if order_type in AUCTION_TYPES and tif != "DAY":
        return Refusal(113, f"The TIF ({tif}) and the order type ({order_type}) are incompatible.")
    return None


def check_auction(inst: Instrument, order_type: str, now: datetime, *, entry: bool) -> Refusal | None:
    if order_type not in AUCTION_TYPES:
        return None
    cutoff = auction_cutoff(inst, now, entry=entry)
    if now <= cutoff:
        return None
    what = "entered" if entry else "cancelled or modified"
    return Refusal(
        201 if entry else 10148,
        f"Order rejected - reason:{order_type} orders for {inst.exchange} cannot be {what} after "
        f"{cutoff.astimezone(_NY):%H:%M} ET",
    )


def check_price(inst: Instrument, side_sign: int, lmt: float, mid: float, max_through: float) -> Refusal | None:
    if not math.isfinite(lmt) or lmt <= 0:
        return Refusal(201, f"Order rejected - reason:Invalid limit price {lmt!r}")
    if not inst.on_tick(lmt):
        return Refusal(110, "The price does not conform to the minimum price variation for this contract.")
    through = side_sign * (lmt - mid) / mid
    if through > max_through:
        return Refusal(
            202,
            f"Order Canceled - reason:The limit price {lmt} is {through:.1%} through the market ({mid:.6g}): "
            "price too far from market (precautionary settings)",
        )
    return None
