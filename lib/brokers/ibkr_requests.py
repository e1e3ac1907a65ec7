"""IB order fields for an :class:`OrderRequest` (no ib_async here).

``order_fields`` gives the keyword arguments of an ib_async ``Order``:
orderType (LMT / MKT / LOC / MOC), action, totalQuantity, lmtPrice,
``orderRef`` = our client order id, tif, outsideRth, and the algo fields.

Algos (IB's parameter names): Adaptive with ``adaptivePriority``
Urgent / Normal / Patient on limit orders when configured; Twap
(``strategyType``, ``startTime``, ``endTime``, ``allowPastEndTime``) and Vwap
(``maxPctVol``, ``startTime``, ``endTime``, ``allowPastEndTime``,
``noTakeLiq``) through :func:`twap_params` / :func:`vwap_params` for a plan
mode that asks for them. Times are IB's ``YYYYMMDD-HH:MM:SS`` in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lib.brokers.base import OrderRequest
from lib.brokers.ibkr_config import IBKRAlgoConfig
from lib.types import OrderType

__all__ = ["ib_time", "order_fields", "twap_params", "vwap_params"]

Params = list[tuple[str, str]]


def ib_time(t: datetime) -> str:
    """IB's UTC time format for algo windows."""
    return t.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")


def twap_params(cfg: IBKRAlgoConfig, start: datetime, end: datetime) -> Params:
    return [
        ("strategyType", cfg.twap_strategy_type),
        ("startTime", ib_time(start)),
        ("endTime", ib_time(end)),
        ("allowPastEndTime", "1" if cfg.allow_past_end_time else "0"),
    ]


def vwap_params(cfg: IBKRAlgoConfig, start: datetime, end: datetime) -> Params:
    return [
        ("maxPctVol", f"{cfg.vwap_max_pct_vol:g}"),
        ("startTime", ib_time(start)),
        ("endTime", ib_time(end)),
        ("allowPastEndTime", "1" if cfg.allow_past_end_time else "0"),
        ("noTakeLiq", "1" if cfg.vwap_no_take_liq else "0"),
    ]


def order_fields(
    request: OrderRequest,
    algo: IBKRAlgoConfig,
    *,
    account: str = "",
    strategy: tuple[str, Params] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of the IB ``Order`` for ``request``.

    ``strategy``: an explicit (algoStrategy, algoParams) such as
    ``("Twap", twap_params(...))``; otherwise Adaptive when
    ``algo.adaptive_priority`` is set and the order is a plain limit."""
    otype = request.order_type
    fields: dict[str, Any] = {
        "action": request.side.value,
        "totalQuantity": float(request.quantity),
        "orderType": otype.value,
        "orderRef": request.client_order_id,
        "tif": request.tif,
        "outsideRth": bool(request.outside_rth),
        "transmit": True,
    }
    if account:
        fields["account"] = account
    if otype in (OrderType.LMT, OrderType.LOC):
        if request.limit_price is None:
            raise ValueError(f"{request.client_order_id}: {otype.value} needs a limit price")
        fields["lmtPrice"] = float(request.limit_price)
    if otype in (OrderType.MOC, OrderType.LOC):
        fields["tif"] = "DAY"  # IB 113: MOC/LOC need TIF DAY
        fields["outsideRth"] = False
    if strategy is not None:
        fields["algoStrategy"], fields["algoParams"] = strategy[0], list(strategy[1])
    elif algo.adaptive_priority is not None and otype in (OrderType.LMT, OrderType.MKT):
        fields["algoStrategy"] = "Adaptive"
        fields["algoParams"] = [("adaptivePriority", algo.adaptive_priority)]
    return fields
