"""SimBroker: the BrokerTransport contract over the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lib.brokers.base import BrokerOrderStatus, BrokerTransport, OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.errors import (
    BrokerDisconnected,
    BrokerRejected,
    TooLateToCancel,
    UnknownInstrument,
    UnknownOrder,
)
from lib.instruments import InstrumentRegistry
from lib.sim.config import SimConfig
from lib.types import OrderType, Side

S = BrokerOrderStatus
T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _broker(clock: VirtualClock, instruments: InstrumentRegistry, **kw: Any) -> SimBroker:
    base: dict[str, Any] = {"seed": 7, "symbols": ("SPY", "ES", "FESX", "DIS"), "latency_median_s": 0.0}
    base.update(kw)
    return SimBroker(clock, SimConfig(**base), instruments)


def _lmt(coid: str, sym: str, side: Side, qty: int, px: float) -> OrderRequest:
    return OrderRequest(coid, sym, side, qty, OrderType.LMT, px)


def test_implements_the_protocol(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    assert isinstance(b, BrokerTransport)


def test_small_market_order_costs_half_the_spread(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    for i, sym in enumerate(("SPY", "DIS", "ES")):
        clock.advance(37)
        s = b.get_market_data(sym)
        assert s.ask is not None and s.bid is not None and s.ask_size is not None
        u = b.submit_order(OrderRequest(f"m{i}", sym, Side.BUY, int(s.ask_size), OrderType.MKT, None))
        assert u.status is S.FILLED and u.avg_fill_price == s.ask
        assert u.avg_fill_price - (s.bid + s.ask) / 2 == pytest.approx((s.ask - s.bid) / 2, abs=1e-9)


def test_buy_of_two_levels_walks_the_book(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    q = b.sim.markets["SPY"].quote
    qty = q.ask_sizes[0] + q.ask_sizes[1]
    u = b.submit_order(OrderRequest("w1", "SPY", Side.BUY, qty, OrderType.MKT, None))
    fills = b.get_executions("w1")
    assert u.status is S.FILLED
    assert [(f.price, f.quantity) for f in fills] == [
        (round(q.ask_ticks * 0.01, 2), q.ask_sizes[0]),
        (round((q.ask_ticks + 1) * 0.01, 2), q.ask_sizes[1]),
    ]
    assert all(f.liquidity == "remove" for f in fills)
    assert len({f.exec_id for f in fills}) == 2
    # the remainder of a limit order rests at its limit
    s = b.get_market_data("SPY")
    assert s.ask is not None and s.ask_size is not None
    u2 = b.submit_order(_lmt("w2", "SPY", Side.BUY, int(s.ask_size) + 500, s.ask))
    assert u2.status is S.PARTIALLY_FILLED and u2.filled_quantity == int(s.ask_size)
    assert [o.client_order_id for o in b.get_open_orders()] == ["w2"]


def test_latency_pending_until_ack(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments, latency_median_s=0.5, latency_log_sd=0.0)
    s = b.get_market_data("ES")
    assert s.bid is not None
    u = b.submit_order(_lmt("l1", "ES", Side.BUY, 1, s.bid - 1.0))
    assert u.status is S.PENDING_SUBMIT
    clock.advance(0.49)
    assert b.get_order_status("l1").status is S.PENDING_SUBMIT
    clock.advance(0.02)
    u = b.get_order_status("l1")
    assert u.status is S.SUBMITTED and u.ts == T0.replace(microsecond=500_000)


def test_colo_latency_is_lognormal_around_50ms(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments, latency_median_s=None)
    draws = sorted(b.sim.latency.draw("SPY") for _ in range(2001))
    assert 0.045 < draws[1000] < 0.055


def test_too_late_to_cancel(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments, latency_median_s=0.15, latency_log_sd=0.0)
    s = b.get_market_data("SPY")
    assert s.ask is not None
    # the cancel leaves while the marketable order is in flight: it fills first
    b.submit_order(_lmt("c1", "SPY", Side.BUY, 10, s.ask))
    clock.advance(0.01)
    assert b.cancel_order("c1").status is S.PENDING_CANCEL
    clock.advance(1.0)
    u = b.get_order_status("c1")
    assert u.status is S.FILLED and u.filled_quantity == 10 and u.reason == "too late to cancel"
    # a cancel of a terminal order is refused at once
    with pytest.raises(TooLateToCancel):
        b.cancel_order("c1")
    with pytest.raises(TooLateToCancel):
        b.modify_order("c1", s.ask)
    with pytest.raises(UnknownOrder):
        b.cancel_order("nope")


def test_cancel_of_working_order(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    s = b.get_market_data("DIS")
    assert s.bid is not None
    b.submit_order(_lmt("k1", "DIS", Side.BUY, 100, round(s.bid - 0.5, 2)))
    u = b.cancel_order("k1")
    assert u.status is S.CANCELLED and b.get_open_orders() == []


def test_replace_loses_queue_priority(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    s = b.get_market_data("DIS")
    assert s.bid is not None and s.bid_size is not None
    px = s.bid
    b.submit_order(_lmt("r1", "DIS", Side.BUY, 100, px))
    book = b.sim.books["DIS"]
    o = b.sim.orders["r1"]
    assert book.queue_ahead(o) == s.bid_size
    book.set_queue(o, 0.0)  # as if everything ahead had traded
    b.modify_order("r1", px, 80)  # a size decrease keeps priority
    assert book.queue_ahead(o) == 0.0
    b.modify_order("r1", px, 120)  # a size increase loses it
    assert book.queue_ahead(o) == b.sim.markets["DIS"].displayed(-1, o.limit_ticks or 0) > 0
    book.set_queue(o, 0.0)
    b.modify_order("r1", round(px - 0.01, 2))  # a price change loses it
    assert book.queue_ahead(o) > 0
    assert b.get_order_status("r1").limit_price == round(px - 0.01, 2)


def test_idempotent_resubmit(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    s = b.get_market_data("ES")
    assert s.bid is not None
    u1 = b.submit_order(_lmt("i1", "ES", Side.BUY, 2, s.bid - 2.0))
    u2 = b.submit_order(_lmt("i1", "ES", Side.BUY, 2, s.bid - 2.0))
    assert u1.broker_order_id == u2.broker_order_id
    assert len(b.sim.orders) == 1 and len(b.get_open_orders()) == 1


def test_synchronous_rejects(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments, max_messages_per_s=3)
    s = b.get_market_data("ES")
    assert s.bid is not None
    with pytest.raises(BrokerRejected, match="tick"):
        b.submit_order(_lmt("x1", "ES", Side.BUY, 1, s.bid + 0.1))
    with pytest.raises(BrokerRejected, match="through the market"):
        b.submit_order(_lmt("x2", "ES", Side.BUY, 1, s.bid * 1.06 // 0.25 * 0.25))
    b.submit_order(_lmt("x3", "ES", Side.SELL, 1, s.bid * 1.06 // 0.25 * 0.25))  # far but passive: ok
    with pytest.raises(BrokerRejected, match="rate limit"):
        b.submit_order(_lmt("x4", "ES", Side.BUY, 1, s.bid - 1.0))
    clock.advance(1.0)
    with pytest.raises(BrokerRejected, match="positive integer"):
        b.submit_order(_lmt("x5", "ES", Side.BUY, 0, s.bid))
    with pytest.raises(BrokerRejected, match="unknown contract"):
        b.submit_order(_lmt("x6", "QQQ", Side.BUY, 1, 500.0))
    clock.advance(1.0)
    with pytest.raises(BrokerRejected, match="limit price"):
        b.submit_order(OrderRequest("x7", "ES", Side.BUY, 1, OrderType.LMT, None))
    with pytest.raises(UnknownInstrument):
        b.get_market_data("QQQ")
    assert "x1" not in b.sim.orders


def test_outside_session_reject(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments, enforce_session=True, session_offset_s=23_390)
    s = b.get_market_data("SPY")
    assert s.bid is not None
    b.submit_order(_lmt("o1", "SPY", Side.BUY, 1, s.bid))
    clock.advance(15)
    with pytest.raises(BrokerRejected, match="outside regular trading hours"):
        b.submit_order(_lmt("o2", "SPY", Side.BUY, 1, s.bid))


def test_commissions_positions_and_nav(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments, start_cash=1_000_000.0)
    b.submit_order(OrderRequest("n1", "SPY", Side.BUY, 50, OrderType.MKT, None))
    b.submit_order(OrderRequest("n2", "ES", Side.SELL, 3, OrderType.MKT, None))
    b.submit_order(OrderRequest("n3", "FESX", Side.BUY, 2, OrderType.MKT, None))
    f1, f2, f3 = (b.get_executions(c)[0] for c in ("n1", "n2", "n3"))
    assert f1.commission == 0.35  # $0.0035/share, min $0.35
    assert f2.commission == pytest.approx(2.55)  # $0.85/contract
    assert f3.commission == pytest.approx(1.70)
    assert b.get_positions() == {"SPY": 50, "ES": -3, "FESX": 2}
    eur = 1.08
    cash = 1_000_000.0 - 50 * f1.price - 0.35 + 3 * 50 * f2.price - 2.55 - (2 * 10 * f3.price + 1.70) * eur
    assert b.cash == pytest.approx(cash)
    nav = cash + 50 * b.sim.mid("SPY") - 3 * 50 * b.sim.mid("ES") + 2 * 10 * b.sim.mid("FESX") * eur
    assert b.get_account_nav() == pytest.approx(nav)
    clock.advance(120)
    nav2 = b.cash + 50 * b.sim.mid("SPY") - 150 * b.sim.mid("ES") + 20 * b.sim.mid("FESX") * eur
    assert b.get_account_nav() == pytest.approx(nav2)


def test_commission_per_order_across_partial_fills(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    b.faults.force_partial_fills(100)
    b.submit_order(OrderRequest("p1", "SPY", Side.BUY, 1000, OrderType.MKT, None))
    clock.advance(20)
    fills = b.get_executions("p1")
    assert len(fills) == 10 and all(f.quantity == 100 for f in fills)
    assert sum(f.commission for f in fills) == pytest.approx(3.5)
    assert b.get_order_status("p1").status is S.FILLED


def test_fault_disconnect(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    b.faults.disconnect()
    calls = [
        lambda: b.submit_order(_lmt("d1", "ES", Side.BUY, 1, 6000.0)),
        lambda: b.cancel_order("d1"),
        lambda: b.modify_order("d1", 6000.0),
        lambda: b.get_order_status("d1"),
        lambda: b.get_order_statuses(["d1"]),
        lambda: b.get_market_data("ES"),
        b.get_positions,
        b.get_account_nav,
        b.get_open_orders,
        b.get_executions,
    ]
    for call in calls:
        with pytest.raises(BrokerDisconnected):
            call()
    b.faults.reconnect()
    assert b.get_positions() == {}


def test_fault_stale_and_crossed_quotes(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    b.faults.stale_quotes("SPY")
    s0 = b.get_market_data("SPY")
    clock.advance(300)
    assert b.get_market_data("SPY") == s0 and s0.ts == T0
    b.faults.stale_quotes("SPY", on=False)
    assert b.get_market_data("SPY").ts == datetime(2026, 11, 24, 15, 35, tzinfo=UTC)
    b.faults.crossed_quotes("ES")
    s = b.get_market_data("ES")
    assert s.bid is not None and s.ask is not None and s.bid > s.ask


def test_fault_halt(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    b.faults.halt("ES")
    s0 = b.get_market_data("ES")
    assert s0.ask is not None
    b.submit_order(OrderRequest("h1", "ES", Side.BUY, 2, OrderType.MKT, None))
    clock.advance(60)
    assert b.get_order_status("h1").status is S.SUBMITTED
    assert b.get_market_data("ES") == s0
    b.faults.resume("ES")
    clock.advance(1)
    assert b.get_order_status("h1").status is S.FILLED
    assert b.get_market_data("ES").ts != s0.ts


def test_fault_slow_acks_and_random_rejects(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    b = _broker(clock, instruments)
    b.faults.slow_acks(2.0)
    s = b.get_market_data("ES")
    assert s.bid is not None
    b.submit_order(_lmt("a1", "ES", Side.BUY, 1, s.bid - 5.0))
    clock.advance(1.9)
    assert b.get_order_status("a1").status is S.PENDING_SUBMIT
    clock.advance(0.2)
    assert b.get_order_status("a1").status is S.SUBMITTED
    b.faults.slow_acks(0.0)
    b.faults.random_rejects(1.0)
    u = b.submit_order(_lmt("a2", "ES", Side.BUY, 1, s.bid - 5.0))
    assert u.status is S.REJECTED and u.reason is not None and "reject" in u.reason


def test_state_file_round_trip(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    path = tmp_path / "sim_state.json"
    cfg = SimConfig(seed=3, symbols=("SPY", "ES"), latency_median_s=0.05)
    c1 = VirtualClock(T0)
    b1 = SimBroker(c1, cfg, instruments, state_path=path)
    s = b1.get_market_data("SPY")
    assert s.bid is not None and s.ask is not None
    b1.submit_order(_lmt("run1-a", "SPY", Side.BUY, 100, s.ask))
    b1.submit_order(_lmt("run1-b", "SPY", Side.BUY, 100, round(s.bid - 0.60, 2)))
    b1.submit_order(_lmt("run1-c", "ES", Side.SELL, 2, 6100.0))
    c1.advance(30.5)
    # a second process opens the same file (the first one "crashed")
    c2 = VirtualClock(c1.now())
    b2 = SimBroker(c2, None, instruments, state_path=path)
    assert b2.get_executions("run1") == b1.get_executions("run1")
    assert b2.get_positions() == b1.get_positions() == {"SPY": 100}
    assert b2.get_order_statuses(["run1-a", "run1-b", "run1-c"]) == b1.get_order_statuses(
        ["run1-a", "run1-b", "run1-c"]
    )
    assert b2.cash == b1.cash and b2.get_account_nav() == b1.get_account_nav()
    assert b2.get_market_data("SPY") == b1.get_market_data("SPY")
    # both continue identically (same market, same queue state, same ids)
    for b, c in ((b1, c1), (b2, c2)):
        b.submit_order(OrderRequest("run2-a", "ES", Side.BUY, 3, OrderType.MKT, None))
        c.advance(400)
    assert b2.get_executions() == b1.get_executions()
    assert b2.get_market_data("ES") == b1.get_market_data("ES")
    assert b2.get_order_statuses(["run1-b", "run1-c"]) == b1.get_order_statuses(["run1-b", "run1-c"])
    # a clock behind the saved time is refused
    with pytest.raises(ValueError, match="behind"):
        SimBroker(VirtualClock(T0), None, instruments, state_path=path)


def test_batch_status_of_1000_orders_answers_each_once(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    # Timings live in bench/lifecycle_scale.py; this pins the behaviour only.
    b = _broker(clock, instruments, symbols=("DIS",))
    s = b.get_market_data("DIS")
    assert s.bid is not None
    ids = [f"perf-{i}" for i in range(1000)]
    for i, coid in enumerate(ids):
        b.submit_order(_lmt(coid, "DIS", Side.BUY, 10, round(s.bid - 0.01 * (i % 40 + 3), 2)))
    st = b.get_order_statuses([*ids, "nobody"])
    assert sorted(st) == sorted(ids)  # unknown ids omitted, each known one once
    clock.advance(60)
    after = b.get_order_statuses(ids)
    assert all(u.ts <= clock.now() for u in after.values())
    assert all(u.quantity == 10 for u in after.values())
