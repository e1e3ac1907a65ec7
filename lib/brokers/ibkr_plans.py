"""Plans that IB's own Twap / Vwap work: one order per plan, IB does the slicing.

When ``ibkr.algo`` enables IB's algo for a plan's mode, cutting the plan into
our own children would make IB slice inside our slices (one IB algo order per
child, each over its 30 s interval). An IB trader sends ONE algo order over the
whole schedule instead, so :func:`for_ib_algo` turns a sliced twap/vwap plan
into an unsliced one:

* TTL = the schedule's span (first release to the end of the last interval),
  at least the plan's own TTL: the OrderManager sends the order's window as
  [submit, submit + TTL], which becomes IB's startTime / endTime;
* price cap = the edge of the risk band at arrival for that TTL (the parent
  budget cap + k * sigma * sqrt(TTL / session), within the emergency band; the
  asset-class cap without a budget), which is the collar too, so
  :meth:`lib.risk.PreTradeRisk.check_plan` holds it to the same band;
* no reprice ladder and no replaces: IB works the order, and a modify of an
  algo's cap every 15 s is message churn, not execution.

Everything else (the intent, arrival mid, mode, the ledger's plan row) stays.
No ib_async here: it runs in make_plans, before any broker call.
"""

from __future__ import annotations

from dataclasses import replace

from lib.brokers.ibkr_config import IBKRAlgoConfig
from lib.parent_budget import budget_band
from lib.risk import PreTradeRisk
from lib.types import Instrument, OrderPlan, OrderType, Side

__all__ = ["for_ib_algo"]


def for_ib_algo(plan: OrderPlan, algo: IBKRAlgoConfig, risk: PreTradeRisk, inst: Instrument) -> OrderPlan:
    """``plan`` as one IB Twap/Vwap order when ``algo`` enables IB's algo for its
    mode and the plan is a sliced limit plan; ``plan`` unchanged otherwise."""
    name = algo.algo_for(plan.mode)
    if name is None or plan.slices is None or plan.order_type is not OrderType.LMT:
        return plan
    span = plan.slices.duration_seconds + plan.slices.interval_seconds
    one = replace(
        plan,
        slices=None,
        ttl_seconds=max(plan.ttl_seconds, span),
        reprice_ladder=(),
        max_replace_attempts=0,
        reasons=(*plan.reasons, f"ib_{name.lower()}: one IB {name} order over {span:.0f} s "
                                f"instead of {plan.slices.n_slices} children (IB slices it)"),
    )
    low, high = budget_band(inst, plan.arrival_mid, risk.band_bps(inst, one))
    limit = high if plan.side is Side.BUY else low
    return replace(one, limit_price=limit, collar_low=low, collar_high=high)
