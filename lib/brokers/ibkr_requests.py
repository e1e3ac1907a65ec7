"""IB order fields for an :class:`OrderRequest` (no ib_async here).

``order_fields`` gives the keyword arguments of an ib_async ``Order``:
orderType (LMT / MKT / LOC / MOC), action, totalQuantity, lmtPrice,
``orderRef`` = our client order id, tif, outsideRth, and the algo fields.

Algos (IB's parameter names): Adaptive with ``adaptivePriority``
Urgent / Normal / Patient on limit and market orders when configured; Twap
(``strategyType``, ``startTime``, ``endTime``, ``allowPastEndTime``) and Vwap
(``maxPctVol``, ``startTime``, ``endTime``, ``allowPastEndTime``,
``noTakeLiq``) through :func:`plan_algo` for a request whose ``plan_mode``
is twap / vwap when ``ibkr.algo.twap_for_plan_mode_twap`` /
``vwap_for_plan_mode_vwap`` is on: IB then does the time slicing over the
request's window [``start_time``, ``end_time``] (the OrderManager sends the
order's submit time and submit time + TTL), and the order carries the plan's
limit as its price cap. Times are IB's ``YYYYMMDD-HH:MM:SS`` in UTC. An IB
algo replaces Adaptive (an order carries one algoStrategy).

Design: when IB's algo is on for a mode, IB does the slicing, so each order
the OrderManager sends is ONE IB algo order over that order's own window
(never a schedule of ours re-sliced here). For a plan released unsliced with
its horizon as TTL that is one IB order per plan, as an IB trader sends it:
``make_plans`` releases such plans unsliced on ``--broker ibkr``
(:func:`lib.brokers.ibkr_plans.for_ib_algo`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lib.brokers.base import OrderRequest
from lib.brokers.ibkr_config import IBKRAlgoConfig
from lib.types import OrderType

__all__ = ["ib_time", "order_fields", "plan_algo", "twap_params", "vwap_params"]

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


def plan_algo(request: OrderRequest, cfg: IBKRAlgoConfig) -> tuple[str, Params] | None:
    """IB's own Twap / Vwap for ``request`` when its plan mode asks for one and
    ``cfg`` enables it (None otherwise: MOC / LOC orders never). Raises
    ValueError when the request has no window to give the algo."""
    name = cfg.algo_for(request.plan_mode) if request.plan_mode is not None else None
    if name is None:
        return None
    build = twap_params if name == "Twap" else vwap_params
    if request.order_type not in (OrderType.LMT, OrderType.MKT):
        return None
    if request.start_time is None or request.end_time is None:
        raise ValueError(f"{request.client_order_id}: an IB {name} order needs the request's start_time and end_time")
    return name, build(cfg, request.start_time, request.end_time)


def order_fields(
    request: OrderRequest,
    algo: IBKRAlgoConfig,
    *,
    account: str = "",
    strategy: tuple[str, Params] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of the IB ``Order`` for ``request``.

    ``strategy``: an explicit (algoStrategy, algoParams) such as
    ``("Twap", twap_params(...))``; otherwise :func:`plan_algo`'s Twap / Vwap
    for the request's plan mode, else Adaptive when ``algo.adaptive_priority``
    is set and the order is a limit or market order."""
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
    if strategy is None:
        strategy = plan_algo(request, algo)
    if strategy is not None:
        fields["algoStrategy"], fields["algoParams"] = strategy[0], list(strategy[1])
    elif algo.adaptive_priority is not None and otype in (OrderType.LMT, OrderType.MKT):
        fields["algoStrategy"] = "Adaptive"
        fields["algoParams"] = [("adaptivePriority", algo.adaptive_priority)]
    return fields
