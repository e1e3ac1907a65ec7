"""The account-level check before trading: broker positions vs the ledger's sleeve books."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.brokers.base import OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.config import Settings
from lib.errors import RiskBlocked
from lib.instruments import InstrumentRegistry
from lib.notify import Notifier
from lib.params import RebalanceParams
from lib.positions_check import CONTROL, check_account_positions, compare_positions, ledger_expected
from lib.runtime import Runtime
from lib.sim.presets import make_sim_broker
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head
from lib.types import Fill, OrderType, Side

RID = "main-2026-11-24-manual"


def test_compare_positions() -> None:
    check = compare_positions({"SPY": 100, "ES": 2}, {"SPY": 100, "TLT": -50})
    assert [(b.symbol, b.broker, b.expected) for b in check.breaks] == [("ES", 2, 0), ("TLT", 0, -50)]
    assert compare_positions({"SPY": 1}, {"SPY": 1}).ok


@pytest.fixture
def ledger(tmp_path: Path, clock: VirtualClock) -> LedgerRepository:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    upgrade_to_head(engine)
    repo = LedgerRepository(make_session_factory(engine), clock)
    repo.create_or_get_rebalance(RID, portfolio="main")
    return repo


def runtime(ledger: LedgerRepository, broker: SimBroker, clock: VirtualClock, registry: InstrumentRegistry,
            action: str, tmp_path: Path) -> Runtime:  # fmt: skip
    settings = Settings.model_validate({"ibkr": {"positions_break_action": action}})
    params = RebalanceParams(targets="x.yaml", broker="ibkr", rebalance_id=RID)
    return Runtime(params, settings, registry, clock, broker, ledger, RID, tmp_path)


def filled_broker(clock: VirtualClock, registry: InstrumentRegistry) -> SimBroker:
    broker = make_sim_broker("demo", clock, seed=3, instruments=registry, symbols=None)
    snap = broker.get_market_data("SPY")
    assert snap.ask is not None
    broker.submit_order(OrderRequest(f"{RID}:SPY:s0:a0", "SPY", Side.BUY, 100, OrderType.LMT, round(snap.ask + 0.05, 2)))
    clock.advance(30)
    assert broker.get_positions() == {"SPY": 100}
    return broker


def test_unallocated_ledger_fills_count_as_expected(ledger: LedgerRepository, clock: VirtualClock) -> None:
    ledger.set_sleeve_position("trend", "SPY", 40, 590.0)
    ledger.set_sleeve_position("carry", "SPY", -10, 590.0)
    assert ledger_expected(ledger) == {"SPY": 30}
    ledger.record_order(f"{RID}:SPY:s0:a0", rebalance_id=RID, intent_id=f"{RID}:SPY", symbol="SPY",
                        side=Side.BUY, quantity=70, order_type="LMT", limit_price=590.0)  # fmt: skip
    ledger.record_fill(Fill("X1", f"{RID}:SPY:s0:a0", "SPY", Side.BUY, 70, 590.0, clock.now()))
    assert ledger_expected(ledger) == {"SPY": 100}  # the crash-before-allocation case


@pytest.mark.parametrize("action", ["alert", "block"])
def test_a_break_is_recorded_alerted_and_blocks_by_setting(
    ledger: LedgerRepository, clock: VirtualClock, instruments: InstrumentRegistry, tmp_path: Path, action: str
) -> None:
    broker = filled_broker(clock, instruments)
    ledger.set_sleeve_position("trend", "SPY", 60, 590.0)  # the books miss 40 shares
    rt = runtime(ledger, broker, clock, instruments, action, tmp_path)
    if action == "block":
        with pytest.raises(RiskBlocked, match="SPY: broker holds 100, the sleeve books say 60"):
            check_account_positions(rt, Notifier())
    else:
        check = check_account_positions(rt, Notifier())
        assert [b.symbol for b in check.breaks] == ["SPY"]
    blocks = ledger.risk_blocks_for_rebalance(RID)
    assert [(b.control, b.symbol) for b in blocks] == [(CONTROL, "SPY")]


def test_matching_books_pass_and_sim_runs_are_not_checked(
    ledger: LedgerRepository, clock: VirtualClock, instruments: InstrumentRegistry, tmp_path: Path
) -> None:
    broker = filled_broker(clock, instruments)
    ledger.set_sleeve_position("trend", "SPY", 100, 590.0)
    rt = runtime(ledger, broker, clock, instruments, "block", tmp_path)
    assert check_account_positions(rt, Notifier()).ok
    ledger.set_sleeve_position("trend", "SPY", 0, 590.0)
    rt.params = RebalanceParams(targets="x.yaml", broker="sim", rebalance_id=RID)
    assert check_account_positions(rt, Notifier()).skipped
    assert ledger.risk_blocks_for_rebalance(RID) == []
