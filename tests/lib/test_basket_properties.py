"""Invariants of netting and allocation over random multi-sleeve baskets:
quantities are conserved exactly, nothing is invented, nothing is lost."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from lib.basket import BasketExecutor, NetStatus, NettingResult
from lib.config import ExecutionConfig
from lib.instruments import load_instruments
from lib.types import OrderIntent, Side

REGISTRY = load_instruments()
PRICES = {sym: inst.profile.price for sym, inst in REGISTRY.items()}
SYMBOLS = ["SPY", "QQQ", "CSPX", "DIS", "ES", "6E"]
SLEEVES = ["alpha", "beta", "gamma", "delta"]

legs = st.tuples(st.sampled_from(SLEEVES), st.sampled_from(SYMBOLS), st.integers(-400, 400))
baskets = st.lists(legs, min_size=1, max_size=20)
min_notionals = st.sampled_from([0.0, 2_500.0, 50_000.0])


def make(
    legs: list[tuple[str, str, int]], min_notional: float
) -> tuple[BasketExecutor, NettingResult]:
    intents = [
        OrderIntent(f"i{n}", sym, Side.from_signed(q), abs(q), sleeve=sleeve)
        for n, (sleeve, sym, q) in enumerate(legs)
    ]
    basket = BasketExecutor(ExecutionConfig(min_trade_notional_usd=min_notional), REGISTRY)
    return basket, basket.net_trades(intents, PRICES, "rb")


def requested(legs: list[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for sleeve, sym, q in legs:
        out[(sleeve, sym)] += q
    return out


@settings(max_examples=200, deadline=None)
@given(baskets, min_notionals)
def test_netting_conserves_signed_quantity(legs: list[tuple[str, str, int]], mn: float) -> None:
    _, res = make(legs, mn)
    totals: dict[str, int] = defaultdict(int)
    for _, sym, q in legs:
        totals[sym] += q
    net = {i.symbol: i.signed_quantity for i in res.net_intents}
    dropped = {d.symbol: d.signed_quantity for d in res.dropped}
    assert set(net).isdisjoint(dropped)
    assert set(res.breakdown) == set(totals)
    for sym, total in totals.items():
        status = res.breakdown[sym].status
        if total == 0:
            assert status is NetStatus.FLAT and sym not in net and sym not in dropped
        else:
            assert net.get(sym, dropped.get(sym)) == total
            assert (sym in dropped) == (abs(total) * REGISTRY[sym].multiplier * PRICES[sym] < mn)
    assert all(i.quantity > 0 and i.sleeve is None for i in res.net_intents)
    assert res.benefit.qty_saved >= 0


@settings(max_examples=200, deadline=None)
@given(baskets)
def test_full_fills_give_every_sleeve_its_request(legs: list[tuple[str, str, int]]) -> None:
    basket, res = make(legs, 0.0)
    fills = {i.symbol: (i.quantity, PRICES[i.symbol] * 1.001) for i in res.net_intents}
    allocs = basket.allocate(res, fills, PRICES)
    got = {(a.sleeve, a.symbol): a.signed_allocated for a in allocs}
    want = {k: v for k, v in requested(legs).items() if v != 0}
    assert got == want


@settings(max_examples=300, deadline=None)
@given(baskets, min_notionals, st.data())
def test_partial_fills_never_invent_quantity(
    legs: list[tuple[str, str, int]], mn: float, data: st.DataObject
) -> None:
    basket, res = make(legs, mn)
    fills = {
        i.symbol: (data.draw(st.integers(0, i.quantity)), PRICES[i.symbol]) for i in res.net_intents
    }
    allocs = basket.allocate(res, fills, PRICES)
    want = requested(legs)
    by_symbol: dict[str, list[int]] = defaultdict(list)
    for a in allocs:
        assert 0 <= a.crossed_qty <= a.allocated_qty <= a.requested_qty
        assert a.side.sign * a.requested_qty == want[(a.sleeve, a.symbol)]
        by_symbol[a.symbol].append(a.signed_allocated)
    for sym, sn in res.breakdown.items():
        filled = fills.get(sym, (0, None))[0]
        net_sign = (sn.net_signed_quantity > 0) - (sn.net_signed_quantity < 0)
        # The internal cross nets to zero; only the market fill moves the book.
        assert sum(by_symbol.get(sym, [])) == net_sign * filled
        executed = sum(a.executed_qty for a in allocs if a.symbol == sym)
        assert executed == filled
        crossed_buy = sum(a.crossed_qty for a in allocs if a.symbol == sym and a.side is Side.BUY)
        crossed_sell = sum(a.crossed_qty for a in allocs if a.symbol == sym and a.side is Side.SELL)
        assert crossed_buy == crossed_sell == sn.crossed_quantity
