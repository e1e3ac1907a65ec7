"""``afx history / show / report`` over a known ledger
(tests/lib/charts/known_ledger.py, session 2026-11-24): ``--days`` counts
from today's New York session date on the injected clock (not the machine's
local date), and ``--png`` writes the charts and prints their paths."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows import cmd_history, cmd_report
from flows.cli import _parser, main
from lib.charts import PNG_SIGNATURE
from lib.clock import VirtualClock
from tests.lib.charts.known_ledger import sqlite_url, write_known_ledger

#: 22:00 New York on the 24th: already the 25th in UTC.
NY_EVENING = VirtualClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
#: 01:00 New York on the 25th.
NY_NEXT_MORNING = VirtualClock(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = sqlite_url(tmp_path)
    write_known_ledger(url)
    monkeypatch.setenv("EXEC_DATABASE_URL", url)
    monkeypatch.delenv("EXEC_DATABASE_SCHEMA", raising=False)
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def _args(*argv: str) -> argparse.Namespace:
    return _parser().parse_args(list(argv))


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_history_days_is_the_new_york_session_date_of_the_clock(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_history.run(_args("history", "--days", "1", "--json"), clock=NY_EVENING) == 0
    rows = _json(capsys)
    assert sorted(r["rebalance_id"] for r in rows) == ["chart-a", "chart-b", "chart-empty"]
    assert cmd_history.run(_args("history", "--days", "1", "--json"), clock=NY_NEXT_MORNING) == 0
    assert _json(capsys) == []  # the 25th in New York: yesterday's rebalances are out
    assert cmd_history.run(_args("history", "--days", "2", "--json"), clock=NY_NEXT_MORNING) == 0
    assert len(_json(capsys)) == 3


def test_report_days_ends_at_the_clock_session_date(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args("report", "--days", "1", "--by", "all", "--json")
    assert cmd_report.run(args, clock=NY_EVENING) == 0
    (stats,) = _json(capsys)
    assert stats["orders"] == 4 and stats["window_days"] == 1
    assert cmd_report.run(args, clock=NY_NEXT_MORNING) == 0
    assert _json(capsys) == []
    until = _args("report", "--days", "1", "--by", "all", "--until", "2026-11-24", "--json")
    assert cmd_report.run(until, clock=NY_NEXT_MORNING) == 0
    assert _json(capsys)[0]["orders"] == 4  # --until wins over the clock


def test_days_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["history", "--days", "0"], ["report", "--days", "-3"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_show_png_writes_both_charts_and_prints_their_paths(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "chart-a", "--png"]) == 0
    out = capsys.readouterr().out
    paths = [Path(line.removeprefix("chart: ")) for line in out.splitlines()
             if line.startswith("chart: ")]
    folder = ledger / "var" / "charts" / "rebalance"
    assert paths == [folder / "chart-a.slippage.png", folder / "chart-a.progress.png"]
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in paths)
    assert "chart-a" in out and "TLT" in out  # the usual show output is still there
    assert main(["show", "chart-a", "--png", "--json"]) == 0
    doc = _json(capsys)
    assert doc["rebalance_id"] == "chart-a" and doc["charts"] == [str(p) for p in paths]


def test_show_png_with_nothing_to_draw_says_why(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "chart-empty", "--png"]) == 0
    out = capsys.readouterr().out
    assert "no chart: rebalance chart-empty has no plans" in out
    assert not (ledger / "var" / "charts").exists()
    assert main(["show", "nope", "--png"]) == 2
    assert "unknown rebalance 'nope'" in capsys.readouterr().out


def test_report_png_for_a_day(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--date", "2026-11-24", "--png"]) == 0
    out = capsys.readouterr().out
    day = ledger / "var" / "charts" / "daily" / "2026-11-24.png"
    assert f"chart: {day}" in out and day.read_bytes()[:8] == PNG_SIGNATURE
    assert main(["report", "--date", "2026-11-25", "--png", "--json"]) == 0
    doc = _json(capsys)
    assert doc["charts"] == [] and "no rebalance in the ledger for 2026-11-25" in doc["charts_note"]
    assert main(["report", "--days", "5", "--png"]) == 2
    assert "--png needs --date" in capsys.readouterr().err
