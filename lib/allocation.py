"""Allocation of a netted execution back to the sleeves.

Sleeves opposite to the net (the minority side) are fully crossed internally
at the arrival mid. Sleeves on the net side share the crossed units and then
the net order's fills pro rata to what each still needs, by largest remainder
in exact integers, so a full fill gives each sleeve exactly its request and
nothing is lost or invented. Used by :meth:`lib.basket.BasketExecutor.allocate`.

Units: quantities are ints (shares/contracts); prices per unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lib.errors import InputError
from lib.types import Side

if TYPE_CHECKING:
    from lib.basket import SleeveRequest

__all__ = [
    "SleeveAllocation",
    "checked_execution",
    "checked_mid",
    "largest_remainder",
    "split_symbol",
]


@dataclass(frozen=True, slots=True)
class SleeveAllocation:
    """What one sleeve got in one symbol.

    allocated_qty = crossed_qty (internal cross at crossed_price, the arrival
    mid) + executed_qty (share of the net order's fills at executed_price).
    avg_price is the blended price of the whole allocation (None if nothing).
    """

    sleeve: str
    symbol: str
    side: Side
    requested_qty: int
    allocated_qty: int
    avg_price: float | None
    crossed_qty: int
    crossed_price: float | None
    executed_price: float | None = None

    @property
    def executed_qty(self) -> int:
        return self.allocated_qty - self.crossed_qty

    @property
    def unfilled_qty(self) -> int:
        return self.requested_qty - self.allocated_qty

    @property
    def signed_allocated(self) -> int:
        return self.side.sign * self.allocated_qty


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` units pro-rata to ``weights`` in integers summing exactly
    to ``total`` (Hamilton's method, exact integer arithmetic). Leftover units
    go to the largest remainders, ties to the earliest weight. Each share is
    at most ceil(total * w / sum(weights)), so with total <= sum(weights) no
    share exceeds its weight."""
    weight_sum = sum(weights)
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("largest_remainder needs total >= 0 and weights >= 0")
    if total == 0:
        return [0] * len(weights)
    if weight_sum == 0:
        raise ValueError(f"cannot split {total} over zero weights")
    shares = [total * w // weight_sum for w in weights]
    leftover = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in order[:leftover]:
        shares[i] += 1
    return shares


def split_symbol(
    requests: Sequence[SleeveRequest],
    net_signed: int,
    crossed_total: int,
    filled: int,
    fill_price: float | None,
    mid: float | None,
) -> list[SleeveAllocation]:
    """One symbol's allocation, in request order (zero requests are skipped)."""
    active = [r for r in requests if r.signed_quantity != 0]
    net_sign = 1 if net_signed > 0 else -1 if net_signed < 0 else 0
    majority = [r for r in active if r.signed_quantity * net_sign > 0]
    minority = [r for r in active if r.signed_quantity * net_sign <= 0]
    crossed: dict[str, int] = {r.sleeve: r.quantity for r in minority}
    executed: dict[str, int] = {r.sleeve: 0 for r in minority}
    if majority:
        cross_shares = largest_remainder(crossed_total, [r.quantity for r in majority])
        needs = [r.quantity - c for r, c in zip(majority, cross_shares, strict=True)]
        fill_shares = largest_remainder(filled, needs)
        for r, c, f in zip(majority, cross_shares, fill_shares, strict=True):
            crossed[r.sleeve], executed[r.sleeve] = c, f
    return [_allocation(r, crossed[r.sleeve], executed[r.sleeve], mid, fill_price) for r in active]


def checked_execution(
    symbol: str, execution: tuple[int, float | None] | None, limit: int, status: str
) -> tuple[int, float | None]:
    """Validate ``(filled, avg price)`` of a net order: int in ``[0, limit]``,
    a positive finite price when anything filled. None counts as unfilled."""
    if execution is None:
        return 0, None
    filled, price = execution
    if isinstance(filled, bool) or not isinstance(filled, int):
        raise InputError("executions", None, symbol, f"filled quantity must be int, got {filled!r}")
    if not 0 <= filled <= limit:
        raise InputError(
            "executions", None, symbol, f"filled {filled} outside [0, {limit}] for a {status} net"
        )
    if filled and (price is None or not math.isfinite(price) or price <= 0):
        raise InputError("executions", None, symbol, f"filled {filled} needs a price > 0")
    return filled, (price if filled else None)


def checked_mid(symbol: str, arrival_mids: Mapping[str, float]) -> float:
    """The arrival mid of ``symbol`` (the internal cross price), validated."""
    mid = arrival_mids.get(symbol)
    if mid is None or not math.isfinite(mid) or mid <= 0:
        raise InputError("arrival_mids", None, symbol, f"cross needs a mid > 0, got {mid!r}")
    return float(mid)


def _allocation(
    r: SleeveRequest, crossed: int, executed: int, mid: float | None, fill_price: float | None
) -> SleeveAllocation:
    side = r.side
    if side is None:  # callers pass only non-zero requests
        raise ValueError(f"{r.sleeve}/{r.symbol}: zero request has no allocation")
    total = crossed + executed
    avg: float | None = None
    if total:
        value = (crossed * mid if crossed and mid is not None else 0.0) + (
            executed * fill_price if executed and fill_price is not None else 0.0
        )
        avg = value / total
    return SleeveAllocation(
        sleeve=r.sleeve,
        symbol=r.symbol,
        side=side,
        requested_qty=r.quantity,
        allocated_qty=total,
        avg_price=avg,
        crossed_qty=crossed,
        crossed_price=mid if crossed else None,
        executed_price=fill_price if executed else None,
    )
