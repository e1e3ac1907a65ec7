"""Calibration gates: the simulator must reproduce published microstructure
facts before any execution result computed on it is reported.

1. realised vol at 1 minute (quote mids) and 1 day (latent path) within +-10%
   of the profile daily vol;
2. a zero-latency market order no larger than the top of book costs exactly
   half the quoted spread;
3. synthetic TWAP metaorders recover the square-root law: exponent 0.5 +- 0.05,
   Y in [0.5, 1], relaxation to 0.6-0.75 of the peak 15 minutes after the end;
   impact is measured against a twin run on the same seed without the
   metaorder (the tape is identical but for our impact), so it is noise-free;
4. passive fills have negative 10-second markouts (adverse selection);
5. trade-size tail exponent (Hill estimator) within 1.3-1.7.

Each gate is ``gate_x(seed, ...) -> GateResult``; ``run_all_gates(seed)``
returns them all. Sample sizes default to what the test suite can afford; the
benchmark passes bigger ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from lib.brokers.base import OrderRequest
from lib.clock import VirtualClock
from lib.instruments import InstrumentRegistry, load_instruments
from lib.sim.config import SimConfig
from lib.sim.flow import FlowBlock
from lib.sim.market import InstrumentMarket, bid_ticks_for
from lib.types import OrderType, Side

__all__ = [
    "GateResult",
    "SqrtLawFit",
    "fit_sqrt_law",
    "gate_half_spread",
    "gate_impact_exponent",
    "gate_impact_relaxation",
    "gate_impact_y",
    "gate_passive_markout",
    "gate_trade_size_tail",
    "gate_vol_1day",
    "gate_vol_1min",
    "hill_estimator",
    "run_all_gates",
]

_T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class GateResult:
    """One calibration check: measured value against [lower, upper]."""

    name: str
    measured: float
    lower: float
    upper: float
    passed: bool
    detail: str = ""


def _gate(name: str, measured: float, lower: float, upper: float, detail: str = "") -> GateResult:
    ok = math.isfinite(measured) and lower <= measured <= upper
    return GateResult(name, measured, lower, upper, ok, detail)


def _reg(instruments: InstrumentRegistry | None) -> InstrumentRegistry:
    return instruments if instruments is not None else load_instruments()


def _worst(ratios: dict[str, float]) -> tuple[float, str]:
    sym = max(ratios, key=lambda s: abs(ratios[s] - 1.0))
    return ratios[sym], ", ".join(f"{s}={r:.3f}" for s, r in ratios.items())


# ----- 1. realised volatility -----
def gate_vol_1min(
    seed: int, symbols: tuple[str, ...] = ("SPY", "ES", "6E"), days: int = 20,
    instruments: InstrumentRegistry | None = None,
) -> GateResult:  # fmt: skip
    """1-minute realised vol of quote mids, annualised to a day, / profile vol.
    measured = the ratio farthest from 1 over ``symbols``."""
    reg = _reg(instruments)
    ratios: dict[str, float] = {}
    for sym in symbols:
        inst = reg[sym]
        mkt = InstrumentMarket(inst, SimConfig(seed=seed))
        n = days * inst.session_seconds
        _, dx = mkt.fresh_draws("price", n)
        spread_n, _ = mkt.fresh_draws("book", n)
        x = (inst.profile.price + np.cumsum(dx)) / inst.tick_size
        mid = (bid_ticks_for(x, spread_n) + spread_n / 2.0) * inst.tick_size
        r = np.diff(mid[59::60])
        ratios[sym] = float(np.std(r) * math.sqrt(inst.session_seconds / 60.0) / (inst.profile.daily_vol * inst.profile.price))
    worst, detail = _worst(ratios)
    return _gate("vol_1min_ratio", worst, 0.9, 1.1, detail)


def gate_vol_1day(
    seed: int, symbols: tuple[str, ...] = ("SPY", "ES", "6E"), days: int = 400,
    instruments: InstrumentRegistry | None = None,
) -> GateResult:  # fmt: skip
    """Daily realised vol (session-to-session change of the latent price) / profile."""
    reg = _reg(instruments)
    ratios: dict[str, float] = {}
    for sym in symbols:
        inst = reg[sym]
        mkt = InstrumentMarket(inst, SimConfig(seed=seed))
        _, dx = mkt.fresh_draws("price", days * inst.session_seconds)
        daily = dx.reshape(days, inst.session_seconds).sum(axis=1)
        ratios[sym] = float(np.std(daily) / (inst.profile.daily_vol * inst.profile.price))
    worst, detail = _worst(ratios)
    return _gate("vol_1day_ratio", worst, 0.9, 1.1, detail)


# ----- 2. half spread -----
def gate_half_spread(
    seed: int, symbols: tuple[str, ...] = ("SPY", "DIS", "ES", "CSPX"), trials: int = 20,
    instruments: InstrumentRegistry | None = None,
) -> GateResult:  # fmt: skip
    """max |cost - half spread| in bps of zero-latency market orders <= top of book."""
    from lib.brokers.sim import SimBroker

    clock = VirtualClock(_T0)
    b = SimBroker(clock, SimConfig(seed=seed, symbols=symbols, latency_median_s=0.0), _reg(instruments))
    rng = np.random.default_rng(seed)
    worst = 0.0
    for i in range(trials):
        for sym in symbols:
            clock.advance(float(rng.integers(5, 60)))
            s = b.get_market_data(sym)
            assert s.bid is not None and s.ask is not None and s.ask_size and s.bid_size
            side = Side.BUY if i % 2 == 0 else Side.SELL
            top = s.ask_size if side is Side.BUY else s.bid_size
            qty = int(rng.integers(1, int(top) + 1))
            u = b.submit_order(OrderRequest(f"hs{i}{sym}", sym, side, qty, OrderType.MKT, None))
            mid = (s.bid + s.ask) / 2.0
            cost = side.sign * (u.avg_fill_price - mid) / mid * 1e4
            half = (s.ask - s.bid) / 2.0 / mid * 1e4
            worst = max(worst, abs(cost - half))
    return _gate("half_spread_error_bps", worst, 0.0, 1e-6, f"{trials * len(symbols)} orders")


# ----- 3. square-root law -----
@dataclass(frozen=True, slots=True)
class SqrtLawFit:
    """exponent/Y from log-log OLS of peak impact vs Q/ADV; relaxation = mean
    impact 15 min after the end / peak."""

    exponent: float
    y: float
    relaxation: float
    points: tuple[tuple[float, float, float], ...]  # (Q/ADV, peak/(sigma*P), relaxed/peak)


def _twap_run(seed: int, sym: str, frac: float, participation: float, reg: InstrumentRegistry,
              trade: bool) -> tuple[np.ndarray, int]:  # fmt: skip
    from lib.brokers.sim import SimBroker

    inst = reg[sym]
    clock = VirtualClock(_T0)
    b = SimBroker(clock, SimConfig(seed=seed, symbols=(sym,), latency_median_s=0.0), reg)
    interval = 10
    child = max(1, int(round(participation * inst.profile.adv / inst.session_seconds * interval)))
    total = max(child, int(round(frac * inst.profile.adv)))
    n_children = math.ceil(total / child)
    mids: list[float] = []
    done = 0
    for i in range(n_children):
        q = min(child, total - done)
        if trade:
            b.submit_order(OrderRequest(f"tw{i}", sym, Side.BUY, q, OrderType.MKT, None))
        done += q
        for _ in range(interval):
            clock.advance(1.0)
            mids.append(b.sim.mid(sym))
    for _ in range(1000):
        clock.advance(1.0)
        mids.append(b.sim.mid(sym))
    return np.array(mids), n_children * interval - interval


def fit_sqrt_law(
    seed: int, symbol: str = "ES", fractions: tuple[float, ...] = (0.002, 0.005, 0.01, 0.02),
    participation: float = 0.1, instruments: InstrumentRegistry | None = None,
) -> SqrtLawFit:  # fmt: skip
    """Paired TWAP runs (with/without the metaorder, same seed) per size."""
    reg = _reg(instruments)
    inst = reg[symbol]
    scale = inst.profile.daily_vol * inst.profile.price
    pts = []
    for frac in fractions:
        with_m, end = _twap_run(seed, symbol, frac, participation, reg, True)
        without, _ = _twap_run(seed, symbol, frac, participation, reg, False)
        d = with_m - without
        peak = float(d[end + 20 : end + 50].mean())  # before the transient starts to relax
        relaxed = float(d[end + 900 : end + 960].mean())
        pts.append((frac, peak / scale, relaxed / peak))
    x = np.log([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    slope = float(np.polyfit(x, y, 1)[0])
    y_coef = float(np.mean([p[1] / math.sqrt(p[0]) for p in pts]))
    relax = float(np.mean([p[2] for p in pts]))
    return SqrtLawFit(slope, y_coef, relax, tuple(pts))


def gate_impact_exponent(seed: int, fit: SqrtLawFit | None = None) -> GateResult:
    f = fit or fit_sqrt_law(seed)
    return _gate("impact_exponent", f.exponent, 0.45, 0.55)


def gate_impact_y(seed: int, fit: SqrtLawFit | None = None) -> GateResult:
    f = fit or fit_sqrt_law(seed)
    return _gate("impact_Y", f.y, 0.5, 1.0)


def gate_impact_relaxation(seed: int, fit: SqrtLawFit | None = None) -> GateResult:
    f = fit or fit_sqrt_law(seed)
    return _gate("impact_relaxation", f.relaxation, 0.6, 0.75)


# ----- 4. adverse selection -----
def gate_passive_markout(
    seed: int, symbols: tuple[str, ...] = ("SPY", "ES", "DIS", "TLT"), seconds: int = 3600,
    instruments: InstrumentRegistry | None = None,
) -> GateResult:  # fmt: skip
    """Mean 10-s markout vs the fill price (bps, + = we gained) of passive fills
    of 1-lot orders posted at the touch every 15 s and cancelled after 60 s,
    per symbol; measured = the highest symbol mean, which must be < 0."""
    from lib.brokers.sim import SimBroker

    reg = _reg(instruments)
    clock = VirtualClock(_T0)
    b = SimBroker(clock, SimConfig(seed=seed, symbols=symbols), reg)
    mids: dict[str, list[float]] = {s: [] for s in symbols}
    n = 0
    live: list[tuple[int, str]] = []
    for t in range(seconds):
        if t % 15 == 0:
            for sym in symbols:
                s = b.get_market_data(sym)
                assert s.bid is not None and s.ask is not None
                for side, px in ((Side.BUY, s.bid), (Side.SELL, s.ask)):
                    n += 1
                    b.submit_order(OrderRequest(f"pm{n}", sym, side, 1, OrderType.LMT, px))
                    live.append((t, f"pm{n}"))
        while live and live[0][0] <= t - 60:
            coid = live.pop(0)[1]
            if b.get_order_status(coid).is_terminal is False:
                b.cancel_order(coid)
        clock.advance(1.0)
        for sym in symbols:
            mids[sym].append(b.sim.mid(sym))
    marks: dict[str, list[float]] = {s: [] for s in symbols}
    for f in b.get_executions("pm"):
        i = int(b.sim.seconds_of(f.ts)) + 10
        if f.liquidity == "add" and i < seconds:
            marks[f.symbol].append(f.side.sign * (mids[f.symbol][i - 1] - f.price) / f.price * 1e4)
    means = {s: float(np.mean(v)) if v else math.nan for s, v in marks.items()}
    detail = ", ".join(f"{s}={means[s]:.2f}bps(n={len(marks[s])})" for s in symbols)
    worst = max(means.values()) if all(math.isfinite(v) for v in means.values()) else math.nan
    return _gate("passive_markout_10s_bps", worst, -math.inf, 0.0, detail)


# ----- 5. trade-size tail -----
def hill_estimator(sizes: np.ndarray, k: int) -> float:
    """Hill estimate of the tail exponent from the ``k`` largest values."""
    x = np.sort(np.asarray(sizes, dtype=float))[::-1]
    return float(k / np.sum(np.log(x[:k] / x[k])))


def gate_trade_size_tail(
    seed: int, symbols: tuple[str, ...] = ("SPY", "ES", "DIS"), trades: int = 200_000,
    tail_share: float = 0.01, instruments: InstrumentRegistry | None = None,
) -> GateResult:  # fmt: skip
    """Hill exponent of exogenous trade sizes (worst over ``symbols``)."""
    from lib.sim.rng import Purpose, make_stream

    reg = _reg(instruments)
    est: dict[str, float] = {}
    for sym in symbols:
        mkt = InstrumentMarket(reg[sym], SimConfig(seed=seed))
        rng = make_stream(seed, sym, Purpose.FLOW)
        chunks, got = [], 0
        while got < trades:
            fb = FlowBlock.draw(rng, mkt.flow, 256)
            chunks.append(fb.sizes)
            got += len(fb.sizes)
        sizes = np.concatenate(chunks)[:trades]
        est[sym] = hill_estimator(sizes, int(tail_share * len(sizes)))
    sym = max(est, key=lambda s: abs(est[s] - 1.5))
    detail = ", ".join(f"{s}={v:.3f}" for s, v in est.items())
    return _gate("trade_size_tail_alpha", est[sym], 1.3, 1.7, detail)


def run_all_gates(seed: int = 0, instruments: InstrumentRegistry | None = None) -> list[GateResult]:
    """Every gate at its default sample size."""
    reg = _reg(instruments)
    fit = fit_sqrt_law(seed, instruments=reg)
    return [
        gate_vol_1min(seed, instruments=reg),
        gate_vol_1day(seed, instruments=reg),
        gate_half_spread(seed, instruments=reg),
        gate_impact_exponent(seed, fit),
        gate_impact_y(seed, fit),
        gate_impact_relaxation(seed, fit),
        gate_passive_markout(seed, instruments=reg),
        gate_trade_size_tail(seed, instruments=reg),
    ]
