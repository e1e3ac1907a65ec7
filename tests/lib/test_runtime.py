"""The runtime's id and var/ rules (issue 8): the default id's date is the
trading date of the run, and var/ (ledger, kill switch, simulator state)
resolves the same way from any working directory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lib.params import RebalanceParams
from lib.runtime import clear_runtimes, default_sim_start, open_runtime, trading_date
from lib.varpaths import PROJECT_ROOT, var_dir, var_path

E2E = Path(__file__).resolve().parents[1] / "e2e"


@pytest.mark.parametrize(
    ("now", "session_day"),
    [
        (datetime(2026, 11, 24, 13, 0, tzinfo=UTC), date(2026, 11, 24)),   # Tue 08:00 NY, pre-open
        (datetime(2026, 11, 24, 20, 0, tzinfo=UTC), date(2026, 11, 24)),   # Tue 15:00 NY, afternoon
        (datetime(2026, 11, 25, 2, 0, tzinfo=UTC), date(2026, 11, 24)),    # Tue 21:00 NY, evening
        (datetime(2026, 11, 28, 16, 0, tzinfo=UTC), date(2026, 11, 27)),   # Sat -> Fri (early close)
        (datetime(2026, 11, 26, 16, 0, tzinfo=UTC), date(2026, 11, 25)),   # Thanksgiving -> Wed
    ],
)
def test_default_sim_session_is_the_wall_clocks_trading_date(now: datetime, session_day: date) -> None:
    start = default_sim_start(now)
    assert trading_date(start) == session_day


def test_afternoon_and_next_morning_runs_get_different_default_ids() -> None:
    afternoon = default_sim_start(datetime(2026, 11, 24, 20, 0, tzinfo=UTC))
    next_morning = default_sim_start(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    assert trading_date(afternoon) == date(2026, 11, 24)
    assert trading_date(next_morning) == date(2026, 11, 25)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory outside the project, var/ under tmp_path/var."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("EXEC_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXEC_DATABASE_SCHEMA", raising=False)
    clear_runtimes()
    yield cwd
    clear_runtimes()


def test_var_paths_are_anchored(elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert var_dir() == tmp_path / "var"
    assert var_path("var/KILL_SWITCH") == tmp_path / "var" / "KILL_SWITCH"
    assert var_path("config/x.yaml") == PROJECT_ROOT / "config" / "x.yaml"
    assert var_path("/abs/file") == Path("/abs/file")
    monkeypatch.delenv("EXEC_VAR_DIR")
    assert var_path("var/KILL_SWITCH") == PROJECT_ROOT / "var" / "KILL_SWITCH"


def test_runtime_from_another_cwd_uses_the_anchored_ledger_and_state(
    elsewhere: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    params = RebalanceParams(
        targets=str(E2E / "targets_small.yaml"), settings=str(E2E / "settings_small.yaml"),
        sim_start=datetime(2026, 11, 24, 15, 30, tzinfo=UTC), sim_state="var/sim/x.json",
    )
    with caplog.at_level("INFO", logger="lib.runtime"):
        rt = open_runtime(params)
    assert rt.var_dir == tmp_path / "var"
    assert rt.ledger_location == f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}"
    assert (tmp_path / "var" / "ledger.sqlite").exists()
    assert not (elsewhere / "var").exists()
    assert rt.ledger_location in caplog.text
    # the default id's date is the session the simulator trades
    assert rt.rebalance_id == f"main-{trading_date(rt.clock.now()).isoformat()}-manual"


def test_kill_switch_file_is_honoured_from_another_cwd(elsewhere: Path, tmp_path: Path) -> None:
    from lib import pipeline as P

    settings = tmp_path / "settings.yaml"
    settings.write_text(
        (E2E / "settings_small.yaml").read_text().replace(
            "kill_switch_file: null", "kill_switch_file: var/KILL_SWITCH"
        )
    )
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "KILL_SWITCH").write_text("ops: halt")
    params = RebalanceParams(
        targets=str(E2E / "targets_small.yaml"), settings=str(settings), rebalance_id="ks-cwd",
        sim_start=datetime(2026, 11, 24, 15, 30, tzinfo=UTC),
    )
    rt = open_runtime(params)
    prepared = P.prepare_trades(rt)
    ctx = P.market_context(rt, prepared.trades.intents)
    report = P.pre_trade_risk(rt, prepared.trades.intents, ctx)
    assert report.approved == () and report.blocks
    assert all(b.control == "kill_switch" and "ops: halt" in b.detail for b in report.blocks)
