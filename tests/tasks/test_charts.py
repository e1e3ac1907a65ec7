"""tasks/charts.py: the chart tasks write the PNGs of a known ledger and
return their paths as strings; nothing to draw or a folder that cannot be
written returns []/None instead of failing the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.charts import PNG_SIGNATURE
from tasks.charts import render_daily_chart, render_rebalance_charts
from tests.lib.charts.known_ledger import sqlite_url, write_known_ledger

SETTINGS = "config/settings.yaml"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("EXEC_DATABASE_SCHEMA", raising=False)
    u = sqlite_url(tmp_path)
    write_known_ledger(u)
    return u


def test_rebalance_charts_paths_as_strings(url: str, tmp_path: Path) -> None:
    out = render_rebalance_charts.fn("chart-a", url, str(tmp_path / "out"), SETTINGS)
    assert out == [str(tmp_path / "out" / "rebalance" / f"chart-a.{k}.png")
                   for k in ("slippage", "progress")]
    assert all(Path(p).read_bytes()[:8] == PNG_SIGNATURE for p in out)


def test_default_folder_and_ledger_come_from_the_environment(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXEC_DATABASE_URL", url)
    (slip, prog) = render_rebalance_charts.fn("chart-a")
    assert Path(slip).parent == tmp_path / "var" / "charts" / "rebalance"
    path = render_daily_chart.fn("2026-11-24")
    assert path == str(tmp_path / "var" / "charts" / "daily" / "2026-11-24.png")


def test_nothing_to_draw_returns_empty(url: str, tmp_path: Path) -> None:
    assert render_rebalance_charts.fn("chart-empty", url, str(tmp_path / "out")) == []
    assert render_rebalance_charts.fn("unknown", url, str(tmp_path / "out")) == []
    assert render_daily_chart.fn("2026-11-25", url, str(tmp_path / "out")) is None
    assert not (tmp_path / "out").exists()


def test_unwritable_folder_is_logged_not_raised(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert render_rebalance_charts.fn("chart-a", url, str(blocker)) == []
    assert render_daily_chart.fn("2026-11-24", url, str(blocker)) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("charts of rebalance chart-a not written" in w for w in warnings), warnings
    assert any("daily chart of 2026-11-24 not written" in w for w in warnings), warnings
