"""Children of a sliced parent: priced in the band of their release time (the
parent risk budget, inside the hard emergency band) and held to the
participation cap against the volume the feed reports (issue 10)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.brokers.fake import FakeBroker, ScriptedFill
from lib.clock import VirtualClock
from lib.config import ExecutionConfig, RiskConfig, load_settings
from lib.instruments import InstrumentRegistry, load_instruments
from lib.orders.child_rules import ChildBand, ParticipationCap
from lib.orders.events import OrderEventKind
from lib.orders.manager import OrderManager, make_client_order_id
from lib.orders.parent import SliceExecutor
from lib.parent_budget import band_half_width_bps, budget_band
from lib.policy import ExecutionPolicy
from lib.risk import PreTradeRisk, StaticKillSwitch
from lib.types import MarketDataSnapshot, OrderIntent, OrderPlan, PolicyMode, Side

REG: InstrumentRegistry = load_instruments()
BASE_CONFIG = load_settings().execution
T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
EPS = 1e-9


def _config(k: float, emergency: float) -> ExecutionConfig:
    return BASE_CONFIG.model_copy(update={"collar_budget_k": k, "emergency_band_bps": emergency,
                                          "slice_above_book_multiple": 4.0})  # fmt: skip


class DriftingFeed:
    """Quotes around ``mid0 * (1 + drift_bps * t / 1e4)`` (t seconds since start)
    with a sine wobble; session volume ``vol_rate`` per second."""

    def __init__(self, clock: VirtualClock, symbol: str, mid0: float, drift_bps: float, wobble_bps: float,
                 vol_rate: float | None) -> None:  # fmt: skip
        self.clock, self.symbol, self.mid0 = clock, symbol, mid0
        self.drift_bps, self.wobble_bps, self.vol_rate = drift_bps, wobble_bps, vol_rate
        self.t0 = clock.now()
        self.inst = REG[symbol]

    def __call__(self, symbol: str) -> MarketDataSnapshot:
        t = (self.clock.now() - self.t0).total_seconds()
        mid = self.mid0 * (1 + (self.drift_bps * t + self.wobble_bps * math.sin(t / 37.0)) / 1e4)
        tick = self.inst.tick_size
        bid = self.inst.floor_to_tick(mid - tick / 2)
        ask = self.inst.round_to_tick(bid + tick)
        volume = None if self.vol_rate is None else 1e6 + self.vol_rate * t
        return MarketDataSnapshot(symbol, bid, ask, ts=self.clock.now(), bid_size=5, ask_size=5, volume=volume)


def _plan(clock: VirtualClock, cfg: ExecutionConfig, feed: DriftingFeed, side: Side, qty: int, adv: float) -> OrderPlan:
    policy = ExecutionPolicy(cfg, REG, clock)
    intent = OrderIntent("I1", feed.symbol, side, qty, mode=PolicyMode.MARKETABLE_LIMIT)
    plan = policy.create_plan(intent, feed(feed.symbol), adv=adv)
    assert plan.slices is not None and plan.slices.participation > 0
    return plan


def _run(clock: VirtualClock, cfg: ExecutionConfig, plan: OrderPlan, feed: DriftingFeed, fills: list[int | None],
         timeout: float) -> tuple[SliceExecutor, OrderManager]:  # fmt: skip
    broker = FakeBroker(clock)
    for i, qty in enumerate(fills):  # child i fills qty (None: all of it) 2 s after it is sent (0: never)
        if qty != 0:
            broker.script_fills(make_client_order_id("RB1", "I1", i, 0), ScriptedFill(after_seconds=2, quantity=qty))
    policy = ExecutionPolicy(cfg, REG, clock)

    def repricer(p: OrderPlan, attempt: int, snap: MarketDataSnapshot | None) -> float:
        assert snap is not None
        return policy.reprice(p, attempt, snap)

    manager = OrderManager(broker, clock, cfg, repricer=repricer, market_data=feed)
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1", market_data=feed, instrument=REG[plan.symbol])
    parent.run(timeout_seconds=timeout)
    return parent, manager


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    symbol=st.sampled_from(["ES", "SPY", "FESX", "DIS"]),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    k=st.floats(0.25, 4.0),
    emergency=st.floats(5.0, 400.0),
    drift=st.floats(-0.2, 0.2),
    wobble=st.floats(0.0, 30.0),
    fills=st.lists(st.sampled_from([0, 0, 3, None]), min_size=12, max_size=12),
)
def test_no_child_price_outside_the_band_of_its_time_nor_the_emergency_band(
    symbol: str, side: Side, k: float, emergency: float, drift: float, wobble: float, fills: list[int | None]
) -> None:
    clock = VirtualClock(T0)
    cfg = _config(k, emergency)
    inst = REG[symbol]
    feed = DriftingFeed(clock, symbol, inst.profile.price, drift, wobble, vol_rate=None)
    adv = 100 * inst.session_seconds / cfg.slice_interval_seconds  # 100 per interval: children of 10
    plan = _plan(clock, cfg, feed, side, 60, adv)
    risk = PreTradeRisk(RiskConfig(), cfg, REG, StaticKillSwitch())
    assert risk.check_plan(plan).ok
    parent, manager = _run(clock, cfg, plan, feed, fills, timeout=600.0)
    mid, cap = plan.arrival_mid, plan.max_slippage_bps
    hard = max(cap, emergency)
    e_low, e_high = mid * (1 - hard / 1e4) - EPS, mid * (1 + hard / 1e4) + EPS
    origin = plan.created_at
    assert origin is not None and parent.children
    sent_prices: dict[str, list[float]] = {}
    for ev in manager.events:
        if ev.kind in (OrderEventKind.SUBMIT_SENT, OrderEventKind.MODIFY_SENT) and ev.price is not None:
            sent_prices.setdefault(ev.client_order_id, []).append(ev.price)
    for child in parent.children:
        cp = child.plan
        elapsed = (child.submitted_at - origin).total_seconds()  # type: ignore[operator]
        # the band of its release time, with sigma at least the profile's (realised vol only widens it)
        widest = band_half_width_bps(cap, k, 10.0, elapsed, plan.ttl_seconds, inst.session_seconds, emergency)
        w_low, w_high = mid * (1 - widest / 1e4) - EPS, mid * (1 + widest / 1e4) + EPS
        narrowest = band_half_width_bps(cap, k, inst.profile.daily_vol, elapsed, plan.ttl_seconds,
                                        inst.session_seconds, emergency)  # fmt: skip
        n_low, n_high = budget_band(inst, mid, narrowest)
        assert cp.collar_low <= n_low + EPS and cp.collar_high >= n_high - EPS  # at least the profile band
        prices = [cp.collar_low, cp.collar_high, *cp.reprice_ladder, *sent_prices.get(child.client_order_id, [])]
        for p in prices:
            assert e_low <= p <= e_high, ("emergency band", p, hard)
            assert w_low <= p <= w_high, ("band at release", p, widest)
            assert cp.collar_low - EPS <= p <= cp.collar_high + EPS, ("child collar", p)
    # a later child's band is never narrower than an earlier one's
    widths = [c.plan.collar_high - c.plan.collar_low for c in parent.children]
    assert all(b >= a - EPS for a, b in zip(widths, widths[1:], strict=False))


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    vol_rate=st.one_of(st.none(), st.floats(0.5, 20.0)),
    fills=st.lists(st.sampled_from([0, 4, None, None]), min_size=40, max_size=40),
)
def test_no_child_exceeds_the_participation_cap_rolled_over_or_completion(
    side: Side, vol_rate: float | None, fills: list[int | None]
) -> None:
    clock = VirtualClock(T0)
    cfg = _config(1.5, 250.0)
    inst = REG["ES"]
    feed = DriftingFeed(clock, "ES", inst.profile.price, 0.0, 2.0, vol_rate=vol_rate)
    adv = 100 * inst.session_seconds / cfg.slice_interval_seconds  # expected 5 per second
    plan = _plan(clock, cfg, feed, side, 60, adv)
    assert plan.slices is not None
    rate = plan.slices.participation
    parent, _ = _run(clock, cfg, plan, feed, fills, timeout=3_000.0)
    assert parent.volume_source == ("adv" if vol_rate is None else "traded")
    start = parent.started_at
    assert start is not None
    per_s = vol_rate if vol_rate is not None else adv / inst.session_seconds
    v_int = adv * cfg.slice_interval_seconds / inst.session_seconds
    for i, child in enumerate(parent.children):
        t = (child.submitted_at - start).total_seconds()  # type: ignore[operator]
        # what every child sent so far (this one included) committed: all fills before it, plus its size
        before = sum(c.filled_quantity for c in parent.children[:i])
        assert before + child.quantity <= math.floor(rate * (per_s * t + v_int) + 1e-9) + 1e-9, (i, t)
    assert parent.filled_quantity <= plan.quantity


def test_volume_from_the_feed_or_adv() -> None:
    cap = ParticipationCap(0.1, 23_400.0, 23_400.0, 20.0)  # 1 per second expected
    t0 = T0
    cap.observe(t0, MarketDataSnapshot("ES", 1.0, 1.25, volume=500.0))
    cap.observe(t0 + timedelta(seconds=100), MarketDataSnapshot("ES", 1.0, 1.25, volume=1_500.0))
    assert cap.source == "traded" and cap.traded(t0 + timedelta(seconds=100)) == 1_000.0
    assert cap.allowance(t0 + timedelta(seconds=100), committed=50) == math.floor(0.1 * 1_020) - 50
    blind = ParticipationCap(0.1, 23_400.0, 23_400.0, 20.0)
    blind.observe(t0, MarketDataSnapshot("ES", 1.0, 1.25))  # no volume in the feed: ADV
    blind.observe(t0 + timedelta(seconds=100), MarketDataSnapshot("ES", 1.0, 1.25, volume=9e9))
    assert blind.source == "adv" and blind.traded(t0 + timedelta(seconds=100)) == 100.0


def test_without_a_budget_the_child_band_is_the_parent_collar(instruments: InstrumentRegistry) -> None:
    clock = VirtualClock(T0)
    cfg = _config(0.0, 250.0)
    feed = DriftingFeed(clock, "ES", 6000.0, 0.0, 0.0, None)
    plan = _plan(clock, cfg, feed, Side.BUY, 60, 100 * 23_400 / 20)
    band = ChildBand(plan, instruments["ES"], cfg, clock.now())
    assert not band.active and band.band(clock.now() + timedelta(hours=3)) == (plan.collar_low, plan.collar_high)


def test_realised_volatility_widens_the_band_beyond_the_profile(instruments: InstrumentRegistry) -> None:
    """A stressed market (here ~4x the profile's volatility, seen in the mids of
    the parent's snapshots) widens the budget band; a calm one never narrows it
    below the profile's."""
    es = instruments["ES"]
    cfg = _config(1.5, 250.0)
    clock = VirtualClock(T0)
    feed = DriftingFeed(clock, "ES", 6000.0, 0.0, 0.0, None)
    plan = _plan(clock, cfg, feed, Side.BUY, 60, 100 * 23_400 / 20)
    calm, wild = ChildBand(plan, es, cfg, clock.now()), ChildBand(plan, es, cfg, clock.now())
    sigma_20s = 4 * es.profile.daily_vol * math.sqrt(20 / es.session_seconds)
    for i in range(12):
        t = clock.now() + timedelta(seconds=20 * i)
        calm.observe(t, MarketDataSnapshot("ES", 5999.875, 6000.125))
        sign = 1 if i % 2 else -1
        wild.observe(t, MarketDataSnapshot("ES", 6000 * (1 + sign * sigma_20s / 2) - 0.125,
                                           6000 * (1 + sign * sigma_20s / 2) + 0.125))  # fmt: skip
    later = clock.now() + timedelta(seconds=240)
    assert calm.sigma() == es.profile.daily_vol
    sigma = wild.sigma()
    assert sigma is not None and sigma == pytest.approx(4 * es.profile.daily_vol, rel=0.1)
    w_calm, w_wild = calm.half_width_bps(later), wild.half_width_bps(later)
    assert w_calm is not None and w_wild is not None and w_wild > 3 * (w_calm - plan.max_slippage_bps)
    lo_c, hi_c = calm.band(later)
    lo_w, hi_w = wild.band(later)
    assert lo_w < lo_c and hi_w > hi_c and plan.collar_low <= lo_w and hi_w <= plan.collar_high
