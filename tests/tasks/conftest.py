"""Task-level fixtures: the simulated broker in a temp state file, a temp
SQLite ledger, and params for the small rebalance (no Prefect server: tasks
are called through ``task.fn``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lib.params import RebalanceParams
from lib.runtime import clear_runtimes

E2E = Path(__file__).resolve().parents[1] / "e2e"
#: Tuesday 2026-11-24 10:30 New York: a regular session, outside the avoid windows.
SESSION_START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


@pytest.fixture
def params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RebalanceParams]:
    monkeypatch.setenv("EXEC_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("EXEC_PUSHGATEWAY", raising=False)
    monkeypatch.delenv("EXEC_APPRISE_URLS", raising=False)
    # Tasks called through .fn run outside any flow: no Prefect API to ask for
    # the Secret block (Prefect would start a temporary server just for that).
    monkeypatch.setenv("EXEC_ALERT_SECRET_BLOCK", "")
    clear_runtimes()
    yield RebalanceParams(
        targets=str(E2E / "targets_small.yaml"),
        settings=str(E2E / "settings_small.yaml"),
        rebalance_id="task-test",
        sim_start=SESSION_START,
    )
    clear_runtimes()
