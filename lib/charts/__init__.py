"""Pictures of execution: a rebalance (slippage per order against its
collar; fill progress per order over time) and a day (IS parts per
rebalance; slippage per order), drawn with matplotlib's Agg backend (no
display) from the ledger's TCA and written as PNG under ``var/charts``.

    figure.py     Agg figures, atomic PNG writes, shared colours
    rebalance.py  slippage_figure, progress_figure (RebalanceTCA -> Figure)
    daily.py      day_figure (DayReport -> Figure)
    render.py     file paths; render from a TCA, a ledger, or a database URL
"""

from lib.charts.daily import day_figure
from lib.charts.figure import PNG_SIGNATURE, new_figure, save_png
from lib.charts.rebalance import collar_bps, progress_figure, slippage_figure
from lib.charts.render import (
    DEFAULT_CHART_DIR,
    ChartFiles,
    chart_dir,
    daily_chart,
    daily_chart_from_db,
    read_ledger,
    rebalance_chart_paths,
    rebalance_charts,
    rebalance_charts_from_db,
    render_day,
    render_rebalance,
)

__all__ = [
    "DEFAULT_CHART_DIR",
    "PNG_SIGNATURE",
    "ChartFiles",
    "chart_dir",
    "collar_bps",
    "daily_chart",
    "daily_chart_from_db",
    "day_figure",
    "new_figure",
    "progress_figure",
    "read_ledger",
    "rebalance_chart_paths",
    "rebalance_charts",
    "rebalance_charts_from_db",
    "render_day",
    "render_rebalance",
    "save_png",
    "slippage_figure",
]
