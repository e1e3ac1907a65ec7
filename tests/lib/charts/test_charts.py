"""lib.charts: the rebalance and daily PNGs from a known ledger
(tests/lib/charts/known_ledger.py): valid PNG files, the expected axes and
series, the colours that tell cost from improvement, and a clear note (no
file, no crash) when there is nothing to draw."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread

from lib.charts import (
    PNG_SIGNATURE,
    collar_bps,
    day_figure,
    progress_figure,
    rebalance_chart_paths,
    rebalance_charts,
    render_day,
    render_rebalance,
    slippage_figure,
)
from lib.charts.figure import COLOURS, DPI
from lib.charts.rebalance import MAX_BARS
from lib.daily import day_report
from lib.errors import ReportingError
from lib.ledger_tca import rebalance_tca
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head
from tests.lib.charts.known_ledger import DAY, registry

Ledger = tuple[str, LedgerRepository]


def _png(path: Path, fig_size: tuple[float, float]) -> None:
    """A real PNG (signature) that matplotlib reads back at the figure's pixel size."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = imread(path)
    w, h = fig_size
    assert img.shape[:2] == (round(h * DPI), round(w * DPI))


def test_slippage_chart_one_bar_per_order_with_collar_and_cap(known_ledger: Ledger) -> None:
    t = rebalance_tca(known_ledger[1], registry(), "chart-a")
    fig = slippage_figure(t)
    (ax,) = fig.axes
    (bars,) = ax.containers
    assert bars.get_label() == "slippage" and len(bars.patches) == 3
    assert [line.get_label() for line in ax.lines] == ["collar", "cap", "zero"]
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    # worst on top (barh draws bottom-up): TLT 16.7, SPY 2.7, unfilled QQQ last
    assert labels == ["QQQ BUY 0/100", "SPY BUY 300/300", "TLT SELL 100/200"]
    widths = [p.get_width() for p in bars.patches]
    assert widths == pytest.approx([0.0, 2.6667, 16.6667], abs=1e-3)
    colours = [to_hex(p.get_facecolor()) for p in bars.patches]
    assert colours == [COLOURS["unfilled"], COLOURS["within"], COLOURS["over_cap"]]
    collar = ax.lines[0].get_xdata()
    assert list(collar) == pytest.approx([50.0, 50.0, 50.0])
    assert list(ax.lines[1].get_xdata()) == pytest.approx([10.0, 25.0, 10.0])
    assert any(a.get_text() == "unfilled" for a in ax.texts)


def test_over_the_collar_is_red(known_ledger: Ledger) -> None:
    t = rebalance_tca(known_ledger[1], registry(), "chart-b")
    (iwm,) = t.orders
    assert collar_bps(iwm) == pytest.approx(20.0)
    (bars,) = slippage_figure(t).axes[0].containers
    assert to_hex(bars.patches[0].get_facecolor()) == COLOURS["over_collar"]


def test_progress_chart_one_step_line_per_order_ending_at_its_fill(known_ledger: Ledger) -> None:
    t = rebalance_tca(known_ledger[1], registry(), "chart-a")
    (ax,) = progress_figure(t).axes
    assert [line.get_label() for line in ax.lines] == ["SPY BUY", "TLT SELL", "QQQ BUY"]
    finals = [float(line.get_ydata()[-1]) for line in ax.lines]
    assert finals == pytest.approx([100.0, 50.0, 0.0])
    spy = ax.lines[0]
    # SPY: sent 15:30:30 (its first fill; t0), 200/300 then 300/300 a minute later
    assert list(spy.get_xdata()[:3]) == pytest.approx([0.0, 0.0, 1.0])
    assert list(spy.get_ydata()[:3]) == pytest.approx([0.0, 200 / 3, 100.0])
    assert ax.get_legend() is not None
    # the time axis ends just after the last fill (15:31:30), not at the post-run sampling
    late = dataclasses.replace(t, finished_at=t.created_at + timedelta(minutes=31))
    ends = [float(line.get_xdata()[-1]) for line in progress_figure(late).axes[0].lines]
    assert ends == pytest.approx([1.05, 1.05, 1.05])


def test_many_orders_draw_the_worst_and_say_so(known_ledger: Ledger) -> None:
    t = rebalance_tca(known_ledger[1], registry(), "chart-a")
    many = dataclasses.replace(t, orders=t.orders * 20)
    ax = slippage_figure(many).axes[0]
    assert len(ax.containers[0].patches) == MAX_BARS
    assert f"worst {MAX_BARS} of 60" in ax.get_title()
    assert progress_figure(many).axes[0].get_legend() is None  # 60 entries would cover the lines


def test_day_chart_parts_per_rebalance_and_slippage_per_order(known_ledger: Ledger) -> None:
    d = day_report(known_ledger[1], registry(), DAY, tz="America/New_York")
    fig = day_figure(d)
    top, bottom = fig.axes
    assert [c.get_label() for c in top.containers] == ["delay", "spread", "impact",
                                                       "opportunity", "fees"]
    assert all(len(c.patches) == 3 for c in top.containers)  # chart-a, chart-b, chart-empty
    assert [line.get_label() for line in top.lines] == ["total", "zero"]
    ids = [r.rebalance_id for r in d.rebalances]
    assert sorted(ids) == ["chart-a", "chart-b", "chart-empty"]
    assert [c.get_label() for c in bottom.collections] == ids
    points = {c.get_label(): len(c.get_offsets()) for c in bottom.collections}
    assert points == {"chart-a": 2, "chart-b": 1, "chart-empty": 0}  # filled orders only
    # the stacked parts reach the total diamond of each rebalance
    total = top.lines[0].get_ydata()
    for i in range(3):
        stacked = sum(c.patches[i].get_height() for c in top.containers)
        assert stacked == pytest.approx(float(total[i]), abs=1e-9)


def test_files_are_valid_pngs_under_var_charts(known_ledger: Ledger, tmp_path: Path) -> None:
    ledger = known_ledger[1]
    res = rebalance_charts(ledger, registry(), "chart-a")
    slip, prog = rebalance_chart_paths("chart-a")
    assert res.paths == (slip, prog) and res.note == ""
    assert slip == tmp_path / "var" / "charts" / "rebalance" / "chart-a.slippage.png"
    _png(slip, (11.0, 2.2 + 0.35 * 3))
    _png(prog, (10.0, 5.0))
    day = render_day(day_report(ledger, registry(), DAY))
    (path,) = day.paths
    assert path == tmp_path / "var" / "charts" / "daily" / "2026-11-24.png"
    _png(path, (8.0, 8.0))
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left no temp file


def test_nothing_to_draw_is_a_note_not_a_crash(known_ledger: Ledger, tmp_path: Path) -> None:
    ledger = known_ledger[1]
    empty = rebalance_charts(ledger, registry(), "chart-empty")
    assert empty.paths == () and "no plans in the ledger" in empty.note
    unknown = rebalance_charts(ledger, registry(), "nope")
    assert unknown.paths == () and "no rebalance 'nope'" in unknown.note
    no_day = render_day(day_report(ledger, registry(), date(2026, 11, 25)))
    assert no_day.paths == () and "no rebalance in the ledger for 2026-11-25" in no_day.note
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    upgrade_to_head(engine)
    fresh = LedgerRepository(make_session_factory(engine))
    assert rebalance_charts(fresh, registry(), "chart-a").paths == ()
    assert render_day(day_report(fresh, registry(), DAY)).paths == ()
    engine.dispose()
    assert not (tmp_path / "var" / "charts").exists()


def test_unwritable_folder_raises_reporting_error_naming_the_file(
    known_ledger: Ledger, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    t = rebalance_tca(known_ledger[1], registry(), "chart-a")
    with pytest.raises(ReportingError, match="chart-a.slippage.png"):
        render_rebalance(t, blocker)


def test_rebalance_id_never_leaves_the_chart_folder(tmp_path: Path) -> None:
    for rid in ("../../etc/x", "..", "a/b\\c"):
        for p in rebalance_chart_paths(rid, tmp_path):
            assert p.parent == tmp_path / "rebalance" and "/" not in p.name and "\\" not in p.name
