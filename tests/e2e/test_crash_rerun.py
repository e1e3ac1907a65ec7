"""Idempotent reruns: crash a rebalance hard at each phase, rerun it in a new
process with the same rebalance_id, and check the broker's own record.

The simulated broker keeps its book in a state file, so the rerun meets the
same broker (orders, executions, positions) a real rerun would meet. After the
rerun: the broker's executions never exceed any intent (no overfill), every
intent is complete, nothing of the rebalance is left working, and the ledger
holds every broker execution once and moved the sleeve books exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.store import LedgerRepository, make_engine, make_session_factory
from lib.supervisor import parse_client_order_id
from tests.e2e.crash_runner import CRASH_EXIT

ROOT = Path(__file__).resolve().parents[2]
# Net intents of targets_small.yaml (quantities after netting) and pair legs.
EXPECTED = {"SPY": 2000, "TLT": 3000, "ES": 2, "DIS": 8000, "relval.QQQ": 600, "relval.IWM": 1400}
BOOKS = {("trend", "ES"): 2, ("trend", "SPY"): 3000, ("trend", "TLT"): -1000,
         ("carry", "SPY"): -1000, ("carry", "TLT"): 4000, ("value", "DIS"): 8000,
         ("relval", "QQQ"): 600, ("relval", "IWM"): -1400}


def _run(rid: str, state: Path, url: str, schema: str | None, phase: str | None) -> int:
    cmd = [sys.executable, "-m", "tests.e2e.crash_runner", rid, str(state), url,
           schema or "-", phase or "-"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if proc.returncode not in (0, CRASH_EXIT):
        raise AssertionError(f"runner failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode


def _reopen(state: Path) -> tuple[VirtualClock, SimBroker]:
    """The broker as a new process would find it."""
    saved = json.loads(state.read_text())["sim"]
    clock = VirtualClock(datetime.fromisoformat(saved["epoch"]).astimezone(UTC))
    clock.advance(float(saved["now_s"]))
    return clock, SimBroker(clock, None, None, state)


def _check(rid: str, state: Path, url: str, schema: str | None) -> None:
    clock, broker = _reopen(state)
    executed: dict[str, int] = defaultdict(int)
    execs = broker.get_executions(f"{rid}:")
    for f in execs:
        parsed = parse_client_order_id(rid, f.client_order_id)
        assert parsed is not None
        executed[parsed[0]] += f.quantity
    for key, qty in executed.items():
        assert qty <= EXPECTED[key], f"overfill on {key}: {qty} > {EXPECTED[key]}"
    assert dict(executed) == EXPECTED
    assert [o for o in broker.get_open_orders() if o.client_order_id.startswith(rid)] == []
    engine = make_engine(url, schema=schema)
    repo = LedgerRepository(make_session_factory(engine), clock)
    ledger_fills = {f.exec_id for f in repo.fills_for_rebalance(rid)}
    assert ledger_fills == {f.exec_id for f in execs}
    # The crashed run's orders are settled too: nothing in the ledger looks open.
    assert [o.client_order_id for o in repo.open_orders_for_rebalance(rid)] == []
    ledger_filled = sum(o.filled_quantity for o in repo.orders_for_rebalance(rid))
    assert ledger_filled == sum(EXPECTED.values())
    books = {(s, sym): q for s in ("trend", "carry", "value", "relval")
             for sym, q in repo.sleeve_positions(s).items() if q}
    assert books == BOOKS
    engine.dispose()


@pytest.mark.parametrize("phase", ["before_submit", "after_submit", "mid_fills", "after_fills",
                                   "before_allocate"])
def test_crash_then_rerun_never_overfills(phase: str, tmp_path: Path) -> None:
    rid = f"crash-{phase.replace('_', '-')}"
    state = tmp_path / "broker.json"
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert _run(rid, state, url, None, phase) == CRASH_EXIT
    # What the crash left at the broker: the phase really was reached.
    if phase == "before_submit":
        assert not state.exists() or _reopen(state)[1].get_executions(rid) == []
    else:
        _, broker = _reopen(state)
        working = [o for o in broker.get_open_orders() if o.client_order_id.startswith(rid)]
        fills = broker.get_executions(f"{rid}:")
        if phase == "after_submit":
            assert working and not fills
        elif phase == "mid_fills":
            assert fills
        else:
            assert not working and sum(f.quantity for f in fills) == sum(EXPECTED.values())
    assert _run(rid, state, url, None, None) == 0
    _check(rid, state, url, None)
    # A third run of the same id trades nothing more and changes nothing.
    assert _run(rid, state, url, None, None) == 0
    _check(rid, state, url, None)


@pytest.mark.postgres
def test_crash_mid_fills_then_rerun_on_postgres(
    tmp_path: Path, pg_url: str, pg_schema_factory: object
) -> None:
    schema = pg_schema_factory()  # type: ignore[operator]
    state = tmp_path / "broker.json"
    assert _run("crash-pg", state, pg_url, schema, "mid_fills") == CRASH_EXIT
    assert _run("crash-pg", state, pg_url, schema, None) == 0
    _check("crash-pg", state, pg_url, schema)
