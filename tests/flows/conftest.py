"""Flow tests run against one Prefect test harness per test session (about
10 s to start, so it is imported lazily and shared)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lib.params import RebalanceParams
from lib.runtime import clear_runtimes

E2E = Path(__file__).resolve().parents[1] / "e2e"
SESSION_START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    for key, value in {
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }.items():
        os.environ.setdefault(key, value)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=240):
        yield


@pytest.fixture
def flow_params(
    prefect_harness: None,
    ledger_db: tuple[str, str | None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RebalanceParams]:
    url, schema = ledger_db
    monkeypatch.setenv("EXEC_DATABASE_URL", url)
    if schema:
        monkeypatch.setenv("EXEC_DATABASE_SCHEMA", schema)
    else:
        monkeypatch.delenv("EXEC_DATABASE_SCHEMA", raising=False)
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("EXEC_PUSHGATEWAY", raising=False)
    clear_runtimes()
    yield RebalanceParams(
        targets=str(E2E / "targets_small.yaml"),
        settings=str(E2E / "settings_small.yaml"),
        rebalance_id="flow-test",
        sim_start=SESSION_START,
    )
    clear_runtimes()
