"""ExecutionPolicy: validation, marketable-limit pricing, collars, ladders, modes."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import MarketDataRejected, PlanRejected, RejectReason, UnknownInstrument
from lib.instruments import InstrumentRegistry
from lib.policy import ExecutionPolicy, build_reprice_ladder
from lib.types import (
    AssetClass,
    MarketDataSnapshot,
    OrderIntent,
    OrderPlan,
    OrderType,
    PolicyMode,
    SessionPhase,
    Side,
)


@pytest.fixture
def exec_config(exec_config: ExecutionConfig) -> ExecutionConfig:
    """The fixed-collar rules these tests pin: settings.yaml with the parent risk
    budget off, POV schedules not fitted to the session and the seed's 3 bps FUT
    collar (settings.yaml changed those defaults in issue 10; see test_policy_budget.py)."""
    caps = dict(exec_config.max_slippage_bps_by_asset_class)
    caps[AssetClass.FUT] = 3.0
    return exec_config.model_copy(
        update={"collar_budget_k": 0.0, "fit_schedule_to_session": False, "max_slippage_bps_by_asset_class": caps,
                "slice_above_book_multiple": 0.0}
    )


@pytest.fixture
def policy(
    exec_config: ExecutionConfig, instruments: InstrumentRegistry, clock: VirtualClock
) -> ExecutionPolicy:
    return ExecutionPolicy(exec_config, instruments, clock)


def snap(
    clock: VirtualClock,
    symbol: str,
    bid: float | None,
    ask: float | None,
    age_seconds: float = 1.0,
) -> MarketDataSnapshot:
    return MarketDataSnapshot(symbol, bid, ask, ts=clock.now() - timedelta(seconds=age_seconds))


def intent(symbol: str, side: Side, qty: int = 100, mode: PolicyMode | None = None) -> OrderIntent:
    return OrderIntent(f"{symbol}-{side}", symbol, side, qty, mode=mode)


def spy_plan(policy: ExecutionPolicy, clock: VirtualClock, side: Side) -> OrderPlan:
    return policy.create_plan(intent("SPY", side), snap(clock, "SPY", 589.99, 590.01))


class TestMarketableLimit:
    def test_marketable_limit_buy_with_quotes(
        self, policy: ExecutionPolicy, clock: VirtualClock
    ) -> None:
        plan = spy_plan(policy, clock, Side.BUY)
        assert plan.mode is PolicyMode.MARKETABLE_LIMIT
        assert plan.order_type is OrderType.LMT
        assert plan.limit_price == 590.01  # the ask: marketable at the touch
        assert plan.arrival_mid == pytest.approx(590.0)
        assert plan.ttl_seconds == 120
        assert plan.replace_interval_seconds == 15
        assert plan.max_replace_attempts == 6
        assert plan.max_slippage_bps == 10
        assert plan.created_at == clock.now()
        assert plan.slices is None
        assert plan.adv_fraction == pytest.approx(100 / 70_000_000)
        # 58 ticks from 590.01 to 590.59 in 6 linear steps: floor(58k/6) ticks.
        assert plan.reprice_ladder == (590.10, 590.20, 590.30, 590.39, 590.49, 590.59)

    def test_marketable_limit_sell_with_quotes(
        self, policy: ExecutionPolicy, clock: VirtualClock
    ) -> None:
        plan = spy_plan(policy, clock, Side.SELL)
        assert plan.limit_price == 589.99  # the bid
        assert plan.order_type is OrderType.LMT
        assert plan.reprice_ladder == (589.90, 589.80, 589.70, 589.61, 589.51, 589.41)

    def test_marketable_limit_no_quotes(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        for bid, ask in ((None, 590.01), (589.99, None), (None, None)):
            with pytest.raises(MarketDataRejected) as exc:
                policy.create_plan(intent("SPY", Side.BUY), snap(clock, "SPY", bid, ask))
            assert exc.value.reason is RejectReason.MISSING_QUOTES
            assert exc.value.symbol == "SPY"

    def test_collar_bounds_set(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = spy_plan(policy, clock, Side.BUY)
        # floor_to_tick(590 * 1.001) and ceil_to_tick(590 * 0.999)
        assert plan.collar_high == 590.59
        assert plan.collar_low == 589.41
        assert plan.limit_price is not None and plan.in_collar(plan.limit_price)
        es = policy.create_plan(intent("ES", Side.BUY, 5), snap(clock, "ES", 6000.0, 6000.25))
        # 3 bps FUT cap around 6000.125: 1.80 pts -> 5998.50 .. 6001.75 on the 0.25 grid
        assert (es.collar_low, es.collar_high) == (5998.5, 6001.75)
        assert es.max_slippage_bps == 3

    def test_no_market_orders(
        self,
        exec_config: ExecutionConfig,
        instruments: InstrumentRegistry,
        clock: VirtualClock,
    ) -> None:
        policy = ExecutionPolicy(exec_config, instruments, clock)
        quotes = snap(clock, "SPY", 589.99, 590.01)
        with pytest.raises(PlanRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY, mode=PolicyMode.MARKET), quotes)
        assert exc.value.reason is RejectReason.MARKET_ORDERS_DISABLED
        assert not isinstance(exc.value, MarketDataRejected)
        assert policy.create_plan(intent("SPY", Side.BUY), quotes).order_type is OrderType.LMT
        allowed = exec_config.model_copy(update={"allow_market_orders": True})
        mkt = ExecutionPolicy(allowed, instruments, clock).create_plan(
            intent("SPY", Side.BUY, mode=PolicyMode.MARKET), quotes
        )
        assert (mkt.order_type, mkt.limit_price, mkt.reprice_ladder) == (OrderType.MKT, None, ())
        assert (mkt.collar_low, mkt.collar_high) == (589.41, 590.59)

    def test_stale_data_rejected(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        with pytest.raises(MarketDataRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY), snap(clock, "SPY", 589.99, 590.01, 31))
        assert exc.value.reason is RejectReason.STALE_DATA
        # exactly max_data_age_seconds old is still fresh
        plan = policy.create_plan(intent("SPY", Side.BUY), snap(clock, "SPY", 589.99, 590.01, 30))
        assert plan.limit_price == 590.01
        no_ts = MarketDataSnapshot("SPY", 589.99, 590.01, ts=None)
        with pytest.raises(MarketDataRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY), no_ts)
        assert exc.value.reason is RejectReason.STALE_DATA


class TestDataValidation:
    @pytest.mark.parametrize(
        ("bid", "ask", "reason"),
        [
            (math.nan, 590.01, RejectReason.INVALID_PRICE),
            (589.99, math.nan, RejectReason.INVALID_PRICE),
            (589.99, math.inf, RejectReason.INVALID_PRICE),
            (0.0, 590.01, RejectReason.INVALID_PRICE),
            (589.99, 0.0, RejectReason.INVALID_PRICE),
            (-1.0, 590.01, RejectReason.INVALID_PRICE),
            (590.02, 590.01, RejectReason.CROSSED_MARKET),
        ],
    )
    def test_bad_quotes(
        self,
        policy: ExecutionPolicy,
        clock: VirtualClock,
        bid: float,
        ask: float,
        reason: RejectReason,
    ) -> None:
        for side in Side:
            with pytest.raises(MarketDataRejected) as exc:
                policy.create_plan(intent("SPY", side), snap(clock, "SPY", bid, ask))
            assert exc.value.reason is reason

    def test_locked_market_allowed(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = policy.create_plan(intent("SPY", Side.BUY), snap(clock, "SPY", 590.0, 590.0))
        assert plan.limit_price == 590.0
        assert plan.arrival_mid == 590.0

    def test_symbol_mismatch(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        with pytest.raises(MarketDataRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY), snap(clock, "QQQ", 509.99, 510.01))
        assert exc.value.reason is RejectReason.SYMBOL_MISMATCH

    def test_future_timestamp_and_naive_timestamp(
        self, policy: ExecutionPolicy, clock: VirtualClock
    ) -> None:
        with pytest.raises(MarketDataRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY), snap(clock, "SPY", 589.99, 590.01, -60))
        assert exc.value.reason is RejectReason.STALE_DATA
        naive = MarketDataSnapshot("SPY", 589.99, 590.01, ts=clock.now().replace(tzinfo=None))
        with pytest.raises(MarketDataRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY), naive)
        assert exc.value.reason is RejectReason.STALE_DATA

    def test_data_checked_before_quantity(
        self, policy: ExecutionPolicy, clock: VirtualClock
    ) -> None:
        with pytest.raises(MarketDataRejected):
            policy.create_plan(intent("SPY", Side.BUY, 0), snap(clock, "SPY", 590.02, 590.01))

    def test_zero_quantity(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        with pytest.raises(PlanRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY, 0), snap(clock, "SPY", 589.99, 590.01))
        assert exc.value.reason is RejectReason.ZERO_QUANTITY

    def test_session_closed(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        quotes = snap(clock, "SPY", 589.99, 590.01)
        with pytest.raises(PlanRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY), quotes, session_phase=SessionPhase.CLOSED)
        assert exc.value.reason is RejectReason.SESSION_CLOSED
        with pytest.raises(PlanRejected) as exc:
            policy.create_plan(intent("SPY", Side.BUY), quotes, remaining_session_seconds=0)
        assert exc.value.reason is RejectReason.SESSION_CLOSED

    def test_unknown_instrument(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        with pytest.raises(UnknownInstrument):
            policy.create_plan(intent("XYZ", Side.BUY), snap(clock, "XYZ", 9.99, 10.01))


class TestCollarAndGrid:
    def test_collar_binds_on_wide_spread(
        self, policy: ExecutionPolicy, clock: VirtualClock
    ) -> None:
        # DIS 149.50/150.50: the ask is 33 bps away, the STK cap is 12 bps.
        plan = policy.create_plan(intent("DIS", Side.BUY), snap(clock, "DIS", 149.50, 150.50))
        assert (plan.collar_low, plan.collar_high) == (149.82, 150.18)
        assert plan.limit_price == 150.18
        assert plan.reprice_ladder == (150.18,) * 6
        assert any(r.startswith("collar binds") for r in plan.reasons)
        sell = policy.create_plan(intent("DIS", Side.SELL), snap(clock, "DIS", 149.50, 150.50))
        assert sell.limit_price == 149.82

    def test_fesx_one_tick_ladder(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = policy.create_plan(intent("FESX", Side.BUY, 3), snap(clock, "FESX", 5000, 5001))
        assert (plan.collar_low, plan.collar_high) == (4999.0, 5002.0)
        assert plan.limit_price == 5001.0
        # one tick of room: one step, then held at the edge
        assert plan.reprice_ladder == (5002.0,) * 6

    def test_es_sell_ladder(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = policy.create_plan(intent("ES", Side.SELL, 2), snap(clock, "ES", 6000.0, 6000.25))
        assert plan.limit_price == 6000.0
        # 6 ticks of room to 5998.50: one tick per attempt
        assert plan.reprice_ladder == (5999.75, 5999.5, 5999.25, 5999.0, 5998.75, 5998.5)

    def test_6e_buy(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = policy.create_plan(intent("6E", Side.BUY, 2), snap(clock, "6E", 1.08, 1.08005))
        assert (plan.collar_low, plan.collar_high) == (1.07985, 1.0802)
        assert plan.limit_price == 1.08005
        assert plan.reprice_ladder == (1.0801, 1.08015, 1.0802, 1.0802, 1.0802, 1.0802)
        assert plan.max_slippage_bps == 2

    def test_aggression_ticks(
        self,
        exec_config: ExecutionConfig,
        instruments: InstrumentRegistry,
        clock: VirtualClock,
    ) -> None:
        policy = ExecutionPolicy(exec_config, instruments, clock, aggression_ticks=2)
        buy = policy.create_plan(intent("SPY", Side.BUY), snap(clock, "SPY", 589.99, 590.01))
        sell = policy.create_plan(intent("SPY", Side.SELL), snap(clock, "SPY", 589.99, 590.01))
        assert (buy.limit_price, sell.limit_price) == (590.03, 589.97)
        with pytest.raises(ValueError):
            ExecutionPolicy(exec_config, instruments, clock, aggression_ticks=-1)

    def test_ladder_with_zero_steps(self, instruments: InstrumentRegistry) -> None:
        spy = instruments["SPY"]
        assert build_reprice_ladder(spy, Side.BUY, 590.01, 589.41, 590.59, 0) == ()


class TestModes:
    def test_auction_close(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        quotes = snap(clock, "SPY", 589.99, 590.01)
        buy = policy.create_plan(
            intent("SPY", Side.BUY, mode=PolicyMode.AUCTION_CLOSE),
            quotes,
            remaining_session_seconds=600,
        )
        assert buy.order_type is OrderType.LOC
        assert buy.limit_price == buy.collar_high == 590.59
        assert (buy.reprice_ladder, buy.max_replace_attempts) == ((), 0)
        assert buy.ttl_seconds == 900  # 600 s to the close + 300 s auction grace
        sell = policy.create_plan(intent("SPY", Side.SELL, mode=PolicyMode.AUCTION_CLOSE), quotes)
        assert sell.limit_price == 589.41
        assert sell.ttl_seconds == 120

    def test_passive_first(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        quotes = snap(clock, "SPY", 589.99, 590.01)
        buy = policy.create_plan(intent("SPY", Side.BUY, mode=PolicyMode.PASSIVE_FIRST), quotes)
        assert buy.limit_price == 589.99  # rests at the bid
        # then marketable at the ask, then 58 ticks in 5 linear steps to the edge
        assert buy.reprice_ladder == (590.01, 590.12, 590.24, 590.35, 590.47, 590.59)
        sell = policy.create_plan(intent("SPY", Side.SELL, mode=PolicyMode.PASSIVE_FIRST), quotes)
        assert sell.limit_price == 590.01
        assert sell.reprice_ladder[0] == 589.99
        assert sell.reprice_ladder[-1] == 589.41

    def test_default_policy_from_config(
        self, instruments: InstrumentRegistry, clock: VirtualClock
    ) -> None:
        cfg = ExecutionConfig(default_policy=PolicyMode.PASSIVE_FIRST)
        plan = ExecutionPolicy(cfg, instruments, clock).create_plan(
            intent("SPY", Side.BUY), snap(clock, "SPY", 589.99, 590.01)
        )
        assert plan.mode is PolicyMode.PASSIVE_FIRST
        assert plan.limit_price == 589.99
        assert "config default_policy" in plan.reasons[0]

    @pytest.mark.parametrize(
        ("mode", "style"), [(PolicyMode.TWAP, "TWAP"), (PolicyMode.VWAP, "VWAP")]
    )
    def test_time_sliced(
        self, policy: ExecutionPolicy, clock: VirtualClock, mode: PolicyMode, style: str
    ) -> None:
        plan = policy.create_plan(
            intent("SPY", Side.BUY, 1_000, mode=mode),
            snap(clock, "SPY", 589.99, 590.01),
            remaining_session_seconds=3_600,
        )
        assert plan.slices is not None
        # 3,600 s left minus the last 10 min = 3,000 s -> 150 children of 20 s
        assert plan.slices.style == style
        assert plan.slices.n_slices == 150
        assert sum(plan.slices.child_quantities) == 1_000
        assert plan.limit_price == 590.01


class TestSlicingDecision:
    def test_at_threshold_not_sliced(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = policy.create_plan(
            intent("DIS", Side.BUY, 30_000), snap(clock, "DIS", 149.99, 150.01)
        )
        assert plan.adv_fraction == pytest.approx(0.01)
        assert plan.slices is None

    def test_above_threshold_pov(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = policy.create_plan(
            intent("DIS", Side.BUY, 30_001), snap(clock, "DIS", 149.99, 150.01)
        )
        assert plan.slices is not None
        assert plan.slices.style == "POV"
        assert plan.slices.participation == 0.10
        assert plan.slices.n_slices == 118  # cap floor(0.1 * 3M * 20 / 23,400) = 256
        assert max(plan.slices.child_quantities) <= 256
        assert sum(plan.slices.child_quantities) == 30_001

    def test_explicit_adv(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        quotes = snap(clock, "DIS", 149.99, 150.01)
        plan = policy.create_plan(intent("DIS", Side.SELL, 10_001), quotes, adv=1_000_000)
        assert plan.adv_fraction == pytest.approx(0.010001)
        assert plan.slices is not None
        assert not any("instrument profile" in r for r in plan.reasons)
        with pytest.raises(ValueError):
            policy.create_plan(intent("DIS", Side.SELL, 10), quotes, adv=0.0)

    def test_pov_outlasting_session_flagged(
        self, policy: ExecutionPolicy, clock: VirtualClock
    ) -> None:
        plan = policy.create_plan(
            intent("DIS", Side.BUY, 90_000),
            snap(clock, "DIS", 149.99, 150.01),
            remaining_session_seconds=3_600,
        )
        assert plan.slices is not None and plan.slices.n_slices == 352
        assert any("outlasts the session" in r for r in plan.reasons)

    def test_auction_not_sliced(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = policy.create_plan(
            intent("DIS", Side.BUY, 90_000, mode=PolicyMode.AUCTION_CLOSE),
            snap(clock, "DIS", 149.99, 150.01),
        )
        assert plan.slices is None
        assert plan.adv_fraction == pytest.approx(0.03)


class TestReprice:
    def test_rebased_on_new_touch(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = spy_plan(policy, clock, Side.BUY)
        clock.advance(15)
        up = snap(clock, "SPY", 590.19, 590.21)
        assert policy.reprice(plan, 1, up) == 590.21  # touch beats rung 590.10
        assert policy.reprice(plan, 6, up) == 590.59  # rung at the collar edge
        down = snap(clock, "SPY", 589.49, 589.51)
        assert policy.reprice(plan, 1, down) == 590.10  # rung beats the touch
        runaway = snap(clock, "SPY", 591.00, 591.02)
        assert policy.reprice(plan, 2, runaway) == 590.59  # never leaves the collar

    def test_sell_rebased(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = spy_plan(policy, clock, Side.SELL)
        assert policy.reprice(plan, 1, snap(clock, "SPY", 589.79, 589.81)) == 589.79
        assert policy.reprice(plan, 3, snap(clock, "SPY", 589.79, 589.81)) == 589.70
        assert policy.reprice(plan, 1, snap(clock, "SPY", 588.0, 588.02)) == 589.41

    def test_bad_attempts_and_data(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        plan = spy_plan(policy, clock, Side.BUY)
        quotes = snap(clock, "SPY", 589.99, 590.01)
        for attempt in (0, 7):
            with pytest.raises(ValueError):
                policy.reprice(plan, attempt, quotes)
        clock.advance(60)  # the arrival quotes are now stale
        with pytest.raises(MarketDataRejected) as exc:
            policy.reprice(plan, 1, quotes)
        assert exc.value.reason is RejectReason.STALE_DATA

    def test_auction_plan_has_no_ladder(self, policy: ExecutionPolicy, clock: VirtualClock) -> None:
        quotes = snap(clock, "SPY", 589.99, 590.01)
        plan = policy.create_plan(intent("SPY", Side.BUY, mode=PolicyMode.AUCTION_CLOSE), quotes)
        with pytest.raises(ValueError):
            policy.reprice(plan, 1, quotes)


def test_quote_wider_than_max_spread_gives_no_plan(policy: ExecutionPolicy, clock: VirtualClock) -> None:
    # 100 x 101.9: ~188 bps of the mid passes the 200 bps default; 100 x 102.1 (~208 bps) does not.
    assert policy.create_plan(intent("DIS", Side.BUY), snap(clock, "DIS", 100.0, 101.9)) is not None
    with pytest.raises(MarketDataRejected) as exc:
        policy.create_plan(intent("DIS", Side.BUY), snap(clock, "DIS", 100.0, 102.1))
    assert exc.value.reason is RejectReason.WIDE_SPREAD
    assert "max_spread_bps 200" in str(exc.value)
