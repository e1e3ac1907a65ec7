"""PairExecutor: legging detection, hedge deployment/unwind, lagging-leg
repricing, escalation, passive-first timing and exposure metrics.

Scenario (hand-worked numbers): BUY 1000 SPY (499.99/500.01, mid 500.00) paired
with SELL 2000 IWM (249.99/250.01, mid 250.00), hedge in MES (4999.75/5000.25,
mid 5000.00, x5 = 25,000 per contract). Collars: SPY [499.50, 500.50], IWM
[249.75, 250.25] (ETF 10 bps), MES [4998.50, 5001.50] (FUT 3 bps). The
FakeBroker fills at the order's limit unless a price is scripted; the manager
polls every 1 s of virtual time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from lib.brokers.fake import FakeBroker, ScriptedFill
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import RiskBlocked
from lib.instruments import InstrumentRegistry
from lib.orders.events import OrderEventKind
from lib.orders.manager import OrderManager, make_client_order_id
from lib.orders.states import OrderState
from lib.pair import (
    LegFill,
    PairEvent,
    PairEventKind,
    PairExecutor,
    PairMode,
    PairSettings,
    detect_legging,
    excess_notional,
    fill_imbalance,
    hedge_offset_notional,
    hedge_quantity,
    is_legged,
    round_half_up,
    target_hedge_position,
)
from lib.policy import ExecutionPolicy
from lib.types import MarketDataSnapshot, OrderIntent, OrderPlan, PairGroup, Side

S = OrderState
QUOTES = {
    "SPY": (499.99, 500.01),
    "IWM": (249.99, 250.01),
    "MES": (4999.75, 5000.25),
    "ES": (4999.75, 5000.25),
}
SPY = make_client_order_id("RB1", "L1")
IWM = make_client_order_id("RB1", "L2")


def hedge_id(n: int, group: str = "G1") -> str:
    return make_client_order_id("RB1", f"{group}.hedge.{n}")


def secs(clock: VirtualClock, t0: datetime, ts: datetime | None = None) -> float:
    return ((ts or clock.now()) - t0).total_seconds()


class Env:
    """Broker, manager, policy and a recorder of pair events, on one clock."""

    def __init__(
        self, clock: VirtualClock, instruments: InstrumentRegistry, config: ExecutionConfig
    ) -> None:
        self.clock = clock
        self.config = config
        self.broker = FakeBroker(clock)
        self.manager = OrderManager(self.broker, clock, config)
        self.policy = ExecutionPolicy(config, instruments, clock)
        self.events: list[PairEvent] = []
        self.t0 = clock.now()

    def md(self, symbol: str) -> MarketDataSnapshot:
        bid, ask = QUOTES[symbol]
        return MarketDataSnapshot(symbol, bid, ask, ts=self.clock.now())

    def executor(self, mode: PairMode = PairMode.CONCURRENT, **settings: float) -> PairExecutor:
        return PairExecutor(
            self.manager,
            self.clock,
            self.config,
            self.policy,
            self.md,
            mode=mode,
            on_event=self.events.append,
            settings=PairSettings(**settings),  # type: ignore[arg-type]
        )

    def pair(
        self, hedge: str | None = "MES", group: str = "G1", ids: tuple[str, str] = ("L1", "L2")
    ) -> tuple[PairGroup, dict[str, OrderPlan]]:
        legs = (
            OrderIntent(ids[0], "SPY", Side.BUY, 1000),
            OrderIntent(ids[1], "IWM", Side.SELL, 2000),
        )
        plans = {i.intent_id: self.policy.create_plan(i, self.md(i.symbol)) for i in legs}
        return PairGroup(group, legs, hedge_symbol=hedge), plans

    def kinds(self) -> list[PairEventKind]:
        return [e.kind for e in self.events]

    def when(self, kind: PairEventKind) -> list[float]:
        return [secs(self.clock, self.t0, e.ts) for e in self.events if e.kind is kind]

    def assert_all_in_collar(self) -> None:
        """Every price ever sent (submit or modify) lies inside its plan's collar."""
        sent = [
            e
            for e in self.manager.events
            if e.kind in (OrderEventKind.SUBMIT_SENT, OrderEventKind.MODIFY_SENT)
        ]
        assert sent
        for e in sent:
            assert e.price is not None
            assert self.manager.ticket(e.client_order_id).plan.in_collar(e.price), e


@pytest.fixture
def exec_config(exec_config: ExecutionConfig) -> ExecutionConfig:
    """The hand-worked prices below pin the legging rules on a fixed collar (the
    parent risk budget off, as test_policy.py does); budgeted and sliced legs:
    test_pair_sliced.py."""
    return exec_config.model_copy(update={"collar_budget_k": 0.0})


@pytest.fixture
def env(clock: VirtualClock, instruments: InstrumentRegistry, exec_config: ExecutionConfig) -> Env:
    return Env(clock, instruments, exec_config)


def make_env(
    clock: VirtualClock, instruments: InstrumentRegistry, base: ExecutionConfig, **update: object
) -> Env:
    return Env(clock, instruments, base.model_copy(update=update))


# ---------------------------------------------------------------------- the seed's tests
class TestPairLegging:
    def test_detect_legging(self, env: Env) -> None:
        assert detect_legging({"SPY": 0.5, "IWM": 0.0}, 0.30)
        assert detect_legging([0.0, 0.30], 0.30)  # exactly at the trigger
        assert env.executor().detect_legging({"A": 1.0, "B": 0.0})

    def test_not_legged_when_balanced(self, env: Env) -> None:
        assert not detect_legging({"SPY": 0.5, "IWM": 0.5}, 0.30)
        assert not detect_legging({"SPY": 0.29, "IWM": 0.0}, 0.30)  # below the trigger
        assert not detect_legging({"SPY": 0.0, "IWM": 0.0}, 0.30)  # nothing filled
        assert not env.executor().detect_legging([0.6, 0.55])


# ---------------------------------------------------------------------- pure arithmetic
class TestLeggingArithmetic:
    def test_seed_rule_misses_a_stalled_small_fill_but_is_legged_does_not(self) -> None:
        pcts = {"A": 0.8, "B": 0.05}
        assert not detect_legging(pcts, 0.3)
        assert fill_imbalance(pcts) == pytest.approx(0.75)
        assert is_legged(pcts, 0.3)
        assert not is_legged({"A": 0.5, "B": 0.25}, 0.3)

    def test_excess_notional_counts_only_what_is_ahead_of_the_slowest_leg(self) -> None:
        legs = [LegFill(Side.BUY, 1000, 600, 500.0), LegFill(Side.SELL, 2000, 400, 250.0)]
        # p_min = 0.2: SPY is 600 - 200 = 400 shares ahead -> +400 * 500 = +200,000.
        assert excess_notional(legs) == pytest.approx(200_000.0)
        flipped = [LegFill(Side.SELL, 1000, 600, 500.0), LegFill(Side.BUY, 2000, 400, 250.0)]
        assert excess_notional(flipped) == pytest.approx(-200_000.0)
        futures = [LegFill(Side.BUY, 10, 4, 5000.0, 50.0), LegFill(Side.SELL, 10, 0, 5000.0, 50)]
        assert excess_notional(futures) == pytest.approx(4 * 5000 * 50)

    def test_hedge_sizing_and_sign(self) -> None:
        assert round_half_up(2.5) == 3 and round_half_up(0.5) == 1 and round_half_up(-1.5) == -2
        # 250,000 long vs MES 25,000/contract -> SELL 10.
        assert target_hedge_position(250_000, 5000.0, 5.0) == -10
        assert target_hedge_position(-250_000, 5000.0, 5.0) == 10
        assert target_hedge_position(250_000, 5000.0, 5.0, -1.0) == 10  # inverse hedge
        assert target_hedge_position(250_000, 5000.0, 5.0, 0.5) == -5
        # 0.98 of an ES contract rounds to 1; 0.3 of one is not hedged by default...
        assert hedge_quantity(295_000, 6000.0, 50.0) == 1
        assert hedge_quantity(90_000, 6000.0, 50.0) == 0
        # ...but is at least 1 once the caller calls 0.25 of a contract material.
        assert hedge_quantity(90_000, 6000.0, 50.0, min_contract_fraction=0.25) == 1
        assert hedge_quantity(2_000, 100.0, 5.0, min_notional=2_500) == 0  # immaterial
        assert hedge_offset_notional(-10, 5000.0, 5.0) == -250_000
        assert hedge_offset_notional(-5, 5000.0, 5.0, 0.5) == -250_000


# ---------------------------------------------------------------------- executor scenarios
def test_balanced_legs_get_no_hedge(env: Env) -> None:
    group, plans = env.pair()
    env.broker.script_fills(SPY, ScriptedFill(5, 500), ScriptedFill(10))
    env.broker.script_fills(IWM, ScriptedFill(5, 1000), ScriptedFill(10))
    result = env.executor().execute(group, plans, "RB1")
    assert result.completed and secs(env.clock, env.t0, result.finished_at) == 10.0
    assert result.fill_pcts == {"L1": 1.0, "L2": 1.0}
    assert result.hedge_orders_sent == 0 and result.legging_episodes == 0
    assert set(env.broker.orders) == {SPY, IWM}
    assert env.broker.modifications == []  # nothing repriced
    assert result.max_unhedged_notional == 0.0 and result.unhedged_notional_seconds == 0.0
    assert env.kinds() == [PairEventKind.STARTED, PairEventKind.COMPLETED]
    assert [leg.avg_fill_price for leg in result.legs] == [500.01, 249.99]
    assert [len(leg.fills) for leg in result.legs] == [2, 2]
    env.assert_all_in_collar()


def test_legs_are_submitted_at_the_same_instant(env: Env) -> None:
    group, plans = env.pair()
    env.executor().start(group, plans, "RB1")
    assert env.broker.orders[SPY].submitted_at == env.broker.orders[IWM].submitted_at == env.t0
    assert env.broker.orders[SPY].limit_price == 500.01  # the plans' marketable limits
    assert env.broker.orders[IWM].limit_price == 249.99


def test_legging_hedges_reprices_then_unwinds_with_hand_worked_exposure(env: Env) -> None:
    """SPY fills 200 @3 s, 500 @5 s (legged); hedge SELL 10 MES fills @8 s;
    IWM (only at its collar edge) fills 1000 @12 s -> balanced, unwind BUY 10
    fills @14 s; both legs complete @20 s.

    unhedged: 100k over [3,5) + 250k over [5,8) + 0 + 250k over [12,14)
    (the hedge alone, legs balanced) = 200k + 750k + 500k = 1,450,000 notional-s.
    """
    group, plans = env.pair()
    env.broker.script_fills(SPY, ScriptedFill(3, 200), ScriptedFill(5, 300), ScriptedFill(20))
    env.broker.script_fills(
        IWM, ScriptedFill(12, 1000, min_limit=249.75), ScriptedFill(20, min_limit=249.75)
    )
    env.broker.script_fills(hedge_id(1), ScriptedFill(3, price=4999.75))
    env.broker.script_fills(hedge_id(2), ScriptedFill(2, price=5000.25))
    result = env.executor().execute(group, plans, "RB1")

    assert result.completed and secs(env.clock, env.t0, result.finished_at) == 20.0
    # Lagging leg jumped straight to ITS collar edge at the legging instant, once.
    iwm_mods = [
        (secs(env.clock, env.t0, ts), p) for c, ts, p in env.broker.modifications if c == IWM
    ]
    assert iwm_mods == [(5.0, 249.75)]
    assert result.legs[1].repriced_to_edge and not result.legs[0].repriced_to_edge
    # Hedge: SELL 10 MES at the bid (marketable), then BUY 10 to unwind.
    h1, h2 = env.broker.orders[hedge_id(1)], env.broker.orders[hedge_id(2)]
    assert (h1.request.side, h1.request.quantity, h1.limit_price) == (Side.SELL, 10, 4999.75)
    assert (h2.request.side, h2.request.quantity, h2.limit_price) == (Side.BUY, 10, 5000.25)
    assert secs(env.clock, env.t0, h1.submitted_at) == 5.0
    assert secs(env.clock, env.t0, h2.submitted_at) == 12.0
    assert env.manager.ticket(hedge_id(1)).plan.intent.intent_id == "G1:hedge:1"
    assert result.hedge_orders_sent == 2 and result.hedge_filled_quantity == 20
    assert result.hedge_position == 0 and env.broker.get_positions()["MES"] == 0
    # Exposure metrics.
    assert result.max_unhedged_notional == pytest.approx(250_000.0)
    assert result.unhedged_notional_seconds == pytest.approx(1_450_000.0)
    assert result.final_unhedged_notional == pytest.approx(0.0)
    assert result.legging_episodes == 1 and result.max_legging_seconds == 7.0
    assert result.escalations == 0
    assert env.when(PairEventKind.LEGGED) == [5.0]
    assert env.when(PairEventKind.REBALANCED) == [12.0]
    assert env.when(PairEventKind.HEDGE_SENT) == [5.0, 12.0]
    assert result.fill_pcts == {"L1": 1.0, "L2": 1.0}
    env.assert_all_in_collar()


def test_hedge_is_resized_by_deltas_as_the_lead_grows(env: Env) -> None:
    group, plans = env.pair()
    env.broker.script_fills(SPY, ScriptedFill(2, 400), ScriptedFill(6, 300))
    for n in (1, 2, 3):
        env.broker.script_fills(hedge_id(n), ScriptedFill(0))
    ex = env.executor(rebalance_tolerance_pct=0.05)
    execution = ex.start(group, plans, "RB1")
    for _ in range(8):
        env.clock.sleep(1.0)
        env.manager.poll()
        ex.step()
    # 400 SPY ahead = 200,000 -> SELL 8; then 700 ahead = 350,000 -> SELL 6 more.
    sent = [(o.request.side, o.request.quantity) for o in env.broker.orders.values()]
    assert sent[2:] == [(Side.SELL, 8), (Side.SELL, 6)]
    assert execution.hedge_position == -14 and execution.unhedged_notional() == 0.0
    execution.cancel()  # legs cancelled at 70% / 0%: all terminal -> unwind BUY 14
    for _ in range(3):
        env.clock.sleep(1.0)
        env.manager.poll()
        ex.step()
    assert ex.done and execution.hedge_position == 0
    unwind = env.broker.orders[hedge_id(3)]
    assert (unwind.request.side, unwind.quantity) == (Side.BUY, 14)
    result = execution.result()
    assert result.final_unhedged_notional == pytest.approx(350_000.0)  # residual, reported


def test_escalation_cancels_the_leading_remainder_and_keeps_the_hedge(
    clock: VirtualClock, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    env = make_env(clock, instruments, exec_config, pair_max_legging_seconds=30.0)
    group, plans = env.pair()
    env.broker.script_fills(SPY, ScriptedFill(5, 500))  # IWM never fills
    env.broker.script_fills(hedge_id(1), ScriptedFill(0))
    env.broker.script_fills(hedge_id(2), ScriptedFill(0))
    result = env.executor().execute(group, plans, "RB1")

    escalated = [e for e in env.events if e.kind is PairEventKind.ESCALATED]
    assert len(escalated) == 1 and result.escalations == 1
    assert secs(env.clock, env.t0, escalated[0].ts) == 35.0  # legged at 5 s + 30 s
    assert escalated[0].details["cancelled"] == {"L1": 500}
    assert escalated[0].details["hedge_position"] == -10
    assert escalated[0].details["legged_seconds"] == 30.0
    spy = env.manager.ticket(SPY)
    assert spy.state == S.CANCELLED and spy.filled_quantity == 500
    # The hedge stayed on from 5 s until IWM expired at its 120 s TTL, then unwound.
    assert env.manager.ticket(IWM).state == S.EXPIRED
    assert env.when(PairEventKind.HEDGE_SENT) == [5.0, 120.0]
    assert result.hedge_position == 0 and secs(env.clock, env.t0, result.finished_at) == 120.0
    assert result.final_unhedged_notional == pytest.approx(250_000.0)  # 500 SPY unpaired
    assert result.max_legging_seconds == 115.0
    env.assert_all_in_collar()


@pytest.mark.parametrize("variant", ["config_disabled", "no_hedge_symbol"])
def test_without_hedge_only_the_lagging_leg_is_repriced(
    variant: str, clock: VirtualClock, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    if variant == "config_disabled":
        env = make_env(clock, instruments, exec_config, pair_hedge_enabled=False)
        group, plans = env.pair()
    else:
        env = make_env(clock, instruments, exec_config)
        group, plans = env.pair(hedge=None)
    env.broker.script_fills(SPY, ScriptedFill(5, 500), ScriptedFill(10))
    env.broker.script_fills(IWM, ScriptedFill(9, min_limit=249.75))
    result = env.executor().execute(group, plans, "RB1")
    assert set(env.broker.orders) == {SPY, IWM}
    assert result.hedge_orders_sent == 0 and result.hedge_symbol is None
    # IWM to its edge when SPY leads (5 s); when IWM overtakes (9 s) SPY lags and goes to ITS edge.
    mods = [(c, secs(env.clock, env.t0, ts), p) for c, ts, p in env.broker.modifications]
    assert mods == [(IWM, 5.0, 249.75), (SPY, 9.0, 500.50)]
    assert result.legging_episodes == 1  # one episode whose direction flipped at 9 s
    assert result.fill_pcts == {"L1": 1.0, "L2": 1.0}
    # unhedged: 250k over [5, 9) = 1,000,000; at 9 s IWM done (100%) vs SPY 50%:
    # IWM now leads by 1000 shares * 250 = 250k until SPY completes at 10 s.
    assert result.max_unhedged_notional == pytest.approx(250_000.0)
    assert result.unhedged_notional_seconds == pytest.approx(1_250_000.0)
    env.assert_all_in_collar()


def test_passive_first_rests_at_the_near_touch_then_switches(env: Env) -> None:
    group, plans = env.pair()
    ex = env.executor(PairMode.PASSIVE_FIRST)
    ex.start(group, plans, "RB1")
    assert env.broker.orders[SPY].limit_price == 499.99  # BUY rests at the bid
    assert env.broker.orders[IWM].limit_price == 250.01  # SELL rests at the ask
    for _ in range(26):
        env.clock.sleep(1.0)
        env.manager.poll()
        ex.step()
    mods = [(c, secs(env.clock, env.t0, ts), p) for c, ts, p in env.broker.modifications]
    # At 10 s both move to the touch; the ladder resumes one interval later at rung 1.
    assert mods == [
        (SPY, 10.0, 500.01),
        (IWM, 10.0, 249.99),
        (SPY, 25.0, plans["L1"].reprice_ladder[0]),
        (IWM, 25.0, plans["L2"].reprice_ladder[0]),
    ]
    assert plans["L1"].reprice_ladder[0] == 500.09 and plans["L2"].reprice_ladder[0] == 249.95
    assert env.when(PairEventKind.PASSIVE_SWITCH) == [10.0, 10.0]
    env.assert_all_in_collar()


def test_passive_window_longer_than_the_replace_interval_holds_the_ladder(env: Env) -> None:
    group, plans = env.pair()
    ex = env.executor(PairMode.PASSIVE_FIRST, passive_seconds=20.0)
    ex.start(group, plans, "RB1")
    for _ in range(21):
        env.clock.sleep(1.0)
        env.manager.poll()
        ex.step()
    mods = [(c, secs(env.clock, env.t0, ts), p) for c, ts, p in env.broker.modifications]
    assert mods == [(SPY, 20.0, 500.01), (IWM, 20.0, 249.99)]  # nothing at 15 s


def test_passive_first_keeps_legging_protection(env: Env) -> None:
    group, plans = env.pair()
    env.broker.script_fills(SPY, ScriptedFill(3, 500))  # filled passively at the bid
    env.broker.script_fills(hedge_id(1), ScriptedFill(0))
    ex = env.executor(PairMode.PASSIVE_FIRST)
    ex.start(group, plans, "RB1")
    for _ in range(11):
        env.clock.sleep(1.0)
        env.manager.poll()
        ex.step()
    mods = [(c, secs(env.clock, env.t0, ts), p) for c, ts, p in env.broker.modifications]
    # IWM goes to its collar edge at 3 s and stays pinned; only SPY switches at 10 s.
    assert mods == [(IWM, 3.0, 249.75), (SPY, 10.0, 500.01)]
    assert env.when(PairEventKind.HEDGE_SENT) == [3.0]
    assert env.manager.ticket(SPY).fills[0].price == 499.99


def test_a_rejected_leg_cancels_its_partner(env: Env) -> None:
    group, plans = env.pair()
    env.broker.reject(IWM, "no permissions")
    result = env.executor().execute(group, plans, "RB1")
    assert env.manager.ticket(IWM).state == S.REJECTED
    assert env.manager.ticket(SPY).state == S.CANCELLED
    assert result.completed and secs(env.clock, env.t0, result.finished_at) == 0.0
    assert PairEventKind.CAPPED in env.kinds() and result.hedge_orders_sent == 0


def test_a_leg_catching_up_with_a_finished_leg_is_capped(
    clock: VirtualClock, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    env = make_env(clock, instruments, exec_config, pair_max_legging_seconds=20.0)
    group, plans = env.pair()
    env.broker.script_fills(SPY, ScriptedFill(5, 500))
    env.broker.script_fills(IWM, ScriptedFill(40, 1200, min_limit=249.75), ScriptedFill(60))
    for n in (1, 2):
        env.broker.script_fills(hedge_id(n), ScriptedFill(0))
    result = env.executor().execute(group, plans, "RB1")
    # SPY cancelled at 50% by escalation (25 s); IWM reaches 60% at 40 s -> capped.
    assert env.when(PairEventKind.ESCALATED) == [25.0]
    assert env.when(PairEventKind.CAPPED) == [40.0]
    assert env.manager.ticket(IWM).state == S.CANCELLED
    assert result.fill_pcts == {"L1": 0.5, "L2": 0.6}
    assert result.hedge_position == 0 and secs(env.clock, env.t0, result.finished_at) == 40.0


def test_timeout_cancels_the_legs(env: Env) -> None:
    group, plans = env.pair()
    result = env.executor().execute(group, plans, "RB1", timeout_seconds=10.0)
    assert result.completed and secs(env.clock, env.t0, result.finished_at) == 11.0
    assert {leg.state for leg in result.legs} == {S.CANCELLED}


def test_several_pairs_and_an_ordinary_order_share_one_loop(env: Env) -> None:
    g1, p1 = env.pair(group="G1", ids=("L1", "L2"))
    g2, p2 = env.pair(group="G2", ids=("M1", "M2"))
    env.broker.script_fills(SPY, ScriptedFill(2))
    env.broker.script_fills(IWM, ScriptedFill(3))
    env.broker.script_fills(make_client_order_id("RB1", "M1"), ScriptedFill(4))
    env.broker.script_fills(make_client_order_id("RB1", "M2"), ScriptedFill(4))
    solo = env.policy.create_plan(OrderIntent("X1", "SPY", Side.SELL, 10), env.md("SPY"))
    env.broker.script_fills(make_client_order_id("RB1", "X1"), ScriptedFill(1))
    ex = env.executor()
    ex.start(g1, p1, "RB1")
    ex.start(g2, p2, "RB1")
    env.manager.submit(solo, make_client_order_id("RB1", "X1"))
    results = ex.run()
    assert [r.completed for r in results] == [True, True]
    assert [secs(env.clock, env.t0, r.finished_at) for r in results] == [3.0, 4.0]
    assert env.manager.live_tickets == []


def test_invalid_groups_send_nothing(env: Env) -> None:
    group, plans = env.pair()
    ex = env.executor()
    with pytest.raises(RiskBlocked, match="no plan for leg L2"):
        ex.start(group, {"L1": plans["L1"]}, "RB1")
    # (sliced legs are no longer refused: they go in lockstep rounds, test_pair_sliced.py)
    with pytest.raises(RiskBlocked, match="does not match"):
        ex.start(group, {"L1": plans["L2"], "L2": plans["L1"]}, "RB1")
    assert env.broker.orders == {}


def test_tolerance_must_sit_below_the_trigger(env: Env) -> None:
    with pytest.raises(ValueError, match="rebalance_tolerance_pct"):
        env.executor(rebalance_tolerance_pct=0.3)


def test_hedge_plan_failures_are_alerted_and_bounded(env: Env) -> None:
    group, plans = env.pair()
    env.broker.script_fills(SPY, ScriptedFill(1, 500))
    calls: list[str] = []

    def no_plan(intent: OrderIntent, snap: MarketDataSnapshot) -> OrderPlan:
        calls.append(intent.intent_id)
        return env.policy.create_plan(
            OrderIntent(intent.intent_id, intent.symbol, intent.side, 0), snap
        )  # zero quantity: PlanRejected

    factory: Callable[[OrderIntent, MarketDataSnapshot], OrderPlan] = no_plan
    ex = env.executor(max_hedge_failures=2)
    ex.start(group, plans, "RB1", hedge_plan_factory=factory)
    for _ in range(6):
        env.clock.sleep(1.0)
        env.manager.poll()
        ex.step()
    failed = [e for e in env.events if e.kind is PairEventKind.HEDGE_FAILED]
    assert len(calls) == 3 and len(failed) == 3  # 2 allowed, the 3rd gives up
    assert failed[-1].details["gave_up"] is True
    assert calls == ["G1:hedge:1", "G1:hedge:2", "G1:hedge:3"]
