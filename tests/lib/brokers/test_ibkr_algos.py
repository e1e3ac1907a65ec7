"""IB's algos end to end: the OrderManager's request carries the plan mode and
the order's window, the transport sends IB's Twap / Vwap for twap / vwap plans
when ``ibkr.algo`` says so (Adaptive otherwise, when configured), and the
gateway works the order over that window until it fills."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lib.brokers.base import BrokerOrderStatus as S
from lib.brokers.base import OrderRequest
from lib.brokers.ibkr_config import IBKRAlgoConfig
from lib.brokers.ibkr_requests import ib_time, order_fields, plan_algo
from lib.config import ExecutionConfig
from lib.errors import BrokerRejected
from lib.instruments import InstrumentRegistry
from lib.orders.manager import OrderManager
from lib.orders.states import OrderState
from lib.policy import ExecutionPolicy
from lib.sim.tws_gateway import GatewayHandle
from lib.types import OrderIntent, OrderType, PolicyMode, Side
from tests.lib.brokers.ibkr_support import IbLogGuard, make_transport, wait_until

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
ON = IBKRAlgoConfig(twap_for_plan_mode_twap=True, vwap_for_plan_mode_vwap=True, adaptive_priority="Normal")


def _req(mode: PolicyMode | None, otype: OrderType = OrderType.LMT, window: bool = True) -> OrderRequest:
    return OrderRequest("r:SPY:s0:a0", "SPY", Side.BUY, 500, otype, 590.0 if otype is OrderType.LMT else None,
                        plan_mode=mode, start_time=T0 if window else None,
                        end_time=T0 + timedelta(seconds=300) if window else None)  # fmt: skip


def test_plan_mode_picks_ibs_algo_only_when_configured() -> None:
    assert plan_algo(_req(PolicyMode.TWAP), ON) == ("Twap", [
        ("strategyType", "Marketable"), ("startTime", "20261124-15:30:00"), ("endTime", "20261124-15:35:00"),
        ("allowPastEndTime", "1")])  # fmt: skip
    name, params = plan_algo(_req(PolicyMode.VWAP), ON) or ("", [])
    assert name == "Vwap" and dict(params) == {"maxPctVol": "0.1", "startTime": "20261124-15:30:00",
                                               "endTime": "20261124-15:35:00", "allowPastEndTime": "1",
                                               "noTakeLiq": "0"}  # fmt: skip
    # off, another mode, or an auction order: no IB slicing (Adaptive when configured)
    assert plan_algo(_req(PolicyMode.TWAP), IBKRAlgoConfig()) is None
    assert plan_algo(_req(PolicyMode.MARKETABLE_LIMIT), ON) is None
    assert plan_algo(_req(PolicyMode.TWAP, OrderType.LOC), ON) is None
    f = order_fields(_req(PolicyMode.MARKETABLE_LIMIT), ON)
    assert f["algoStrategy"] == "Adaptive"
    assert order_fields(_req(PolicyMode.TWAP), ON)["algoStrategy"] == "Twap"  # one algo per order
    with pytest.raises(ValueError, match="needs the request's start_time and end_time"):
        plan_algo(_req(PolicyMode.TWAP, window=False), ON)


def test_request_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OrderRequest("x", "SPY", Side.BUY, 1, OrderType.LMT, 1.0, start_time=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="before start_time"):
        OrderRequest("x", "SPY", Side.BUY, 1, OrderType.LMT, 1.0, start_time=T0, end_time=T0 - timedelta(seconds=1))


@pytest.mark.parametrize(("mode", "algo"), [(PolicyMode.TWAP, "Twap"), (PolicyMode.VWAP, "Vwap")])
def test_manager_order_of_a_twap_vwap_plan_is_worked_by_ib_over_its_window(
    gateway: GatewayHandle, ib_errors: IbLogGuard, exec_config: ExecutionConfig, instruments: InstrumentRegistry,
    mode: PolicyMode, algo: str,
) -> None:  # fmt: skip
    """One order for the whole plan (as sent unsliced), IB's algo doing the slicing."""
    t = make_transport(gateway, algo=IBKRAlgoConfig(twap_for_plan_mode_twap=True, vwap_for_plan_mode_vwap=True,
                                                    vwap_max_pct_vol=0.25))  # fmt: skip
    try:
        cfg = exec_config.model_copy(update={"default_policy": mode})
        policy = ExecutionPolicy(cfg, instruments, t.clock)
        plan = policy.create_plan(OrderIntent(f"alg-{algo}:SPY", "SPY", Side.BUY, 2000), t.get_market_data("SPY"))
        plan = replace(plan, slices=None, ttl_seconds=180.0, max_replace_attempts=0, reprice_ladder=())
        manager = OrderManager(t, t.clock, cfg, poll_interval_seconds=2.0)
        coid = f"alg-{algo}:SPY:s0:a0"
        ticket = manager.submit(plan, coid)
        sent = ticket.submitted_at  # the manager's clock (the gateway's, through reqCurrentTime)
        assert sent is not None
        [view] = [o for o in gateway.orders() if o.order_ref == coid]
        params = dict(view.algo_params)
        assert view.algo_strategy == algo
        assert (params["startTime"], params["endTime"]) == (ib_time(sent), ib_time(sent + timedelta(seconds=180)))
        assert view.lmt_price == plan.limit_price  # the plan's limit caps IB's algo
        # worked in time: partly filled a quarter in, filled by the end
        wait_until(t.clock, lambda: t.clock.now() >= sent + timedelta(seconds=45), seconds=90)
        manager.poll()
        assert 0 < ticket.filled_quantity < 2000, ticket.filled_quantity
        assert t.get_order_status(coid).status is S.PARTIALLY_FILLED
        manager.run_until_complete(timeout_seconds=400)
        assert ticket.state is OrderState.FILLED and ticket.filled_quantity == 2000
        fills = t.get_executions(f"alg-{algo}:")
        assert sum(f.quantity for f in fills) == 2000 and len(fills) >= 5
        assert (max(f.ts for f in fills) - min(f.ts for f in fills)).total_seconds() >= 60
        assert gateway.positions()["SPY"] == 2000 == t.get_positions()["SPY"]
    finally:
        t.close()


@pytest.mark.parametrize("priority", ["Urgent", "Normal", "Patient"])
def test_adaptive_priority_reaches_ib_and_fills(gateway: GatewayHandle, ib_errors: IbLogGuard, priority: str) -> None:
    t = make_transport(gateway, algo=IBKRAlgoConfig(adaptive_priority=priority))  # type: ignore[arg-type]
    try:
        snap = t.get_market_data("QQQ")
        assert snap.ask is not None
        coid = f"adp-{priority}:QQQ:s0:a0"
        t.submit_order(OrderRequest(coid, "QQQ", Side.BUY, 200, OrderType.LMT, round(snap.ask + 0.05, 2),
                                    plan_mode=PolicyMode.MARKETABLE_LIMIT))  # fmt: skip
        assert wait_until(t.clock, lambda: t.get_order_status(coid).status is S.FILLED, seconds=60)
        [view] = [o for o in gateway.orders() if o.order_ref == coid]
        assert (view.algo_strategy, view.algo_params) == ("Adaptive", (("adaptivePriority", priority),))
        assert sum(f.quantity for f in t.get_executions(f"adp-{priority}:")) == 200
    finally:
        t.close()


def test_an_algo_the_gateway_refuses_is_a_reject(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    """IB's 145 on bad algo params (a window already over) is BrokerRejected; nothing works at IB."""
    ib_errors.allow(145)
    t = make_transport(gateway, algo=IBKRAlgoConfig(vwap_for_plan_mode_vwap=True, allow_past_end_time=False))
    try:
        snap = t.get_market_data("SPY")
        assert snap.ask is not None
        now = t.clock.now()
        stale = OrderRequest("bad:SPY:s0:a0", "SPY", Side.BUY, 100, OrderType.LMT, round(snap.ask, 2),
                             plan_mode=PolicyMode.VWAP, start_time=now - timedelta(hours=2),
                             end_time=now - timedelta(hours=1))  # fmt: skip
        with pytest.raises(BrokerRejected, match="IB 145"):
            t.submit_order(stale)
        assert gateway.open_orders() == [] and gateway.executions() == []
    finally:
        t.close()
