"""A hand-written ledger with known numbers, for chart (and CLI) tests.

Session 2026-11-24 (New York), two rebalances and an empty one::

    chart-a   SPY BUY 300  filled 200 @ 450.09 + 100 @ 450.18 (avg 450.12: 2.67 bps, cap 25)
              TLT SELL 200 filled 100 @ 89.85 (16.67 bps > cap 10; partial)
              QQQ BUY 100  sent, never filled
    chart-b   IWM BUY 50   filled 50 @ 220.66 (30 bps > collar 20 bps)
    chart-empty  a rebalance row, nothing planned (everything blocked, deferred, ...)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lib.clock import VirtualClock
from lib.instruments import InstrumentRegistry, load_instruments
from lib.runtime import project_path
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head
from lib.types import Fill, OrderIntent, OrderPlan, OrderType, PolicyMode, Side

DAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
ORDERS = {"chart-a": 3, "chart-b": 1, "chart-empty": 0}


def registry() -> InstrumentRegistry:
    return load_instruments(project_path("config/instruments.yaml"))


def _plan(sym: str, side: Side, qty: int, mid: float, collar_bps: float, cap_bps: float) -> OrderPlan:
    it = OrderIntent(intent_id=f"i-{sym}", symbol=sym, side=side, quantity=qty)
    band = mid * collar_bps / 1e4
    return OrderPlan(
        intent=it, mode=PolicyMode.MARKETABLE_LIMIT, order_type=OrderType.LMT,
        limit_price=mid, collar_low=mid - band, collar_high=mid + band, arrival_mid=mid,
        ttl_seconds=120.0, replace_interval_seconds=20.0, max_replace_attempts=3,
        reprice_ladder=(), max_slippage_bps=cap_bps, created_at=T0,
    )


def _order(repo: LedgerRepository, rid: str, p: OrderPlan) -> str:
    coid = f"{rid}:{p.intent.intent_id}:s0:a0"
    repo.record_order(coid, rebalance_id=rid, intent_id=p.intent.intent_id, symbol=p.symbol,
                      side=p.side, quantity=p.quantity, order_type="LMT",
                      limit_price=p.limit_price, mode=p.mode.value)
    return coid


def _fill(repo: LedgerRepository, coid: str, p: OrderPlan, n: int, qty: int, price: float,
          seconds: float) -> None:
    repo.record_fill(Fill(exec_id=f"{coid}-x{n}", client_order_id=coid, symbol=p.symbol,
                          side=p.side, quantity=qty, price=price,
                          ts=T0 + timedelta(seconds=seconds), commission=0.5))


def write_known_ledger(url: str) -> LedgerRepository:
    """Write the module docstring's ledger at ``url``; returns its repository."""
    engine = make_engine(url)
    upgrade_to_head(engine)
    repo = LedgerRepository(make_session_factory(engine), VirtualClock(T0))
    for rid in ORDERS:
        repo.create_or_get_rebalance(rid, portfolio="main", schedule="test", session_date=DAY)
    spy = _plan("SPY", Side.BUY, 300, 450.0, 50.0, 25.0)
    tlt = _plan("TLT", Side.SELL, 200, 90.0, 50.0, 10.0)
    qqq = _plan("QQQ", Side.BUY, 100, 510.0, 50.0, 10.0)
    for p in (spy, tlt, qqq):
        repo.record_plan("chart-a", p)
    c = _order(repo, "chart-a", spy)
    _fill(repo, c, spy, 1, 200, 450.09, 30)
    _fill(repo, c, spy, 2, 100, 450.18, 90)
    _fill(repo, _order(repo, "chart-a", tlt), tlt, 1, 100, 89.85, 60)
    _order(repo, "chart-a", qqq)
    iwm = _plan("IWM", Side.BUY, 50, 220.0, 20.0, 10.0)
    repo.record_plan("chart-b", iwm)
    _fill(repo, _order(repo, "chart-b", iwm), iwm, 1, 50, 220.66, 45)
    return repo


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
