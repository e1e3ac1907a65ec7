"""Chart tests read a hand-written ledger (tests/lib/charts/known_ledger.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.store import LedgerRepository
from tests.lib.charts.known_ledger import sqlite_url, write_known_ledger


@pytest.fixture
def known_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, LedgerRepository]:
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("EXEC_DATABASE_SCHEMA", raising=False)
    url = sqlite_url(tmp_path)
    return url, write_known_ledger(url)
