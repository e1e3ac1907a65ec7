"""The exogenous market: determinism, tape independence, quotes, depth."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.instruments import InstrumentRegistry
from lib.sim.config import Regime, SimConfig
from lib.sim.market import InstrumentMarket, Quote
from lib.sim.rng import Purpose, make_stream
from lib.sim.tape import tape_hash

#: sha256 of seed 42, 300 s of SPY, ES and 6E. Changing the market model or its
#: random draws changes this value: do so only on purpose and update it here.
PINNED_TAPE = "273d402f967e355a75398ed2e63b64f59808905ef314ca33c66f0e9a474d7453"


def test_streams_are_keyed_by_symbol_and_purpose() -> None:
    a = make_stream(1, "SPY", Purpose.PRICE).random(4)
    assert np.array_equal(a, make_stream(1, "SPY", Purpose.PRICE).random(4))
    assert not np.array_equal(a, make_stream(1, "SPY", Purpose.FLOW).random(4))
    assert not np.array_equal(a, make_stream(1, "QQQ", Purpose.PRICE).random(4))
    assert not np.array_equal(a, make_stream(2, "SPY", Purpose.PRICE).random(4))


def test_tape_hash_is_deterministic_and_seed_dependent(instruments: InstrumentRegistry) -> None:
    h1 = tape_hash(42, 300, ("SPY", "ES", "6E"), instruments)
    assert h1 == tape_hash(42, 300, ("SPY", "ES", "6E"), instruments)
    assert h1 != tape_hash(43, 300, ("SPY", "ES", "6E"), instruments)
    assert h1 == PINNED_TAPE


def test_instrument_tape_does_not_depend_on_other_instruments(instruments: InstrumentRegistry) -> None:
    cfg_one = SimConfig(seed=5, symbols=("ES",))
    cfg_all = SimConfig(seed=5)
    a = InstrumentMarket(instruments["ES"], cfg_one)
    b = InstrumentMarket(instruments["ES"], cfg_all)
    for k in range(1, 400):
        ra, rb = a.step(k), b.step(k)
        assert ra == rb


def _check_quote(q: Quote, tick_ok: bool = True) -> None:
    assert q.ask_ticks - q.bid_ticks >= 1
    assert all(s >= 1 for s in q.bid_sizes + q.ask_sizes)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), idx=st.integers(0, 11), stressed=st.booleans())
def test_quotes_on_tick_grid_and_never_crossed(
    instruments: InstrumentRegistry, seed: int, idx: int, stressed: bool
) -> None:
    sym = list(instruments)[idx]
    inst = instruments[sym]
    cfg = SimConfig(seed=seed, regime=Regime.STRESSED if stressed else Regime.NORMAL)
    m = InstrumentMarket(inst, cfg)
    for k in range(1, 200):
        m.step(k)
        _check_quote(m.quote)
        bid, ask = m.quote.bid_ticks * inst.tick_size, m.quote.ask_ticks * inst.tick_size
        assert inst.on_tick(bid) and inst.on_tick(ask)
        assert bid < ask
        # the quote brackets the price it is centred on (within one spread)
        assert bid - inst.tick_size * 1e-6 <= m.ref_price + (ask - bid) and m.ref_price - (ask - bid) <= ask


def test_spread_matches_profile_on_average(instruments: InstrumentRegistry) -> None:
    for sym in ("SPY", "GLD", "DIS", "CSPX"):
        inst = instruments[sym]
        m = InstrumentMarket(inst, SimConfig(seed=3))
        spreads = []
        for k in range(1, 2001):
            m.step(k)
            spreads.append((m.quote.ask_ticks - m.quote.bid_ticks) * inst.tick_size)
        target = max(inst.tick_size, inst.profile.spread_bps * 1e-4 * inst.profile.price)
        assert abs(np.mean(spreads) / target - 1) < 0.05, sym


def test_stressed_regime_doubles_spread_and_halves_depth(instruments: InstrumentRegistry) -> None:
    inst = instruments["DIS"]
    n = InstrumentMarket(inst, SimConfig(seed=1))
    s = InstrumentMarket(inst, SimConfig(seed=1, regime=Regime.STRESSED))
    assert s.sigma_1s == 2 * n.sigma_1s
    assert s.spread_target_ticks == 2 * n.spread_target_ticks
    assert np.allclose(s.level_means, 0.5 * n.level_means)


def test_walking_the_book_and_depth_refill(instruments: InstrumentRegistry) -> None:
    inst = instruments["SPY"]
    m = InstrumentMarket(inst, SimConfig(seed=11))
    q = m.quote
    want = q.ask_sizes[0] + q.ask_sizes[1]
    fills = m.take(1, want, None)
    assert fills == [(q.ask_ticks, q.ask_sizes[0]), (q.ask_ticks + 1, q.ask_sizes[1])]
    assert m.displayed(1, q.ask_ticks) == 0
    # a limit stops the walk
    m2 = InstrumentMarket(inst, SimConfig(seed=11))
    assert m2.take(1, 10 * want, q.ask_ticks) == [(q.ask_ticks, q.ask_sizes[0])]
    # consumed depth refills with a 10 s half-life
    d0 = m.deficits[(1, q.ask_ticks)]
    for k in range(1, 11):
        m.step(k)
    d10 = m.deficits.get((1, q.ask_ticks), 0.0)
    assert math.isclose(d10, d0 * 0.5, rel_tol=1e-9)


def test_exogenous_volume_matches_adv(instruments: InstrumentRegistry) -> None:
    for sym in ("SPY", "ES", "6E"):
        inst = instruments[sym]
        m = InstrumentMarket(inst, SimConfig(seed=2))
        vol = 0
        n = 20_000
        for k in range(1, n + 1):
            vol += sum(t.size for t in m.step(k).trades)
        expected = inst.profile.adv / inst.session_seconds * n
        assert abs(vol / expected - 1) < 0.15, (sym, vol / expected)
