"""The picture of one day (:class:`lib.daily.DayReport`): every rebalance of
the day side by side.

Top axes: implementation shortfall per rebalance in bps of its paper
notional, stacked by part (delay, spread, impact, opportunity, fees; a
negative part stacks below zero) with the total as a black diamond, so the
parts visibly add up to it. Bottom axes: each order's slippage (bps, + =
cost) above its rebalance, one scatter series per rebalance, with the
day's paper-notional weighted IS in the title.

Series (what tests count): top axes, one bar container per part (label =
the part) and lines ``total`` and ``zero``; bottom axes, one collection per
rebalance (label = the rebalance id) and line ``zero``.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from lib.charts.figure import new_figure
from lib.daily import DayReport

__all__ = ["PARTS", "day_figure"]

#: The shortfall parts, in stacking order, and their colours.
PARTS: tuple[tuple[str, str], ...] = (
    ("delay", "#4c78a8"), ("spread", "#72b7b2"), ("impact", "#f58518"),
    ("opportunity", "#b279a2"), ("fees", "#9d755d"),
)


def day_figure(d: DayReport) -> Figure:
    """IS parts per rebalance and slippage per order for the day."""
    rebs = list(d.rebalances)
    fig = new_figure(max(8.0, 1.2 * len(rebs) + 4.0), 8.0, rows=2)
    top, bottom = fig.axes
    x = list(range(len(rebs)))
    pos = [0.0] * len(rebs)
    neg = [0.0] * len(rebs)
    for name, colour in PARTS:
        vals = [getattr(r.summary, f"{name}_bps") or 0.0 for r in rebs]
        base = [p if v >= 0 else n for v, p, n in zip(vals, pos, neg, strict=True)]
        top.bar(x, vals, bottom=base, color=colour, label=name, width=0.6)
        pos = [p + max(v, 0.0) for p, v in zip(pos, vals, strict=True)]
        neg = [n + min(v, 0.0) for n, v in zip(neg, vals, strict=True)]
    top.plot(x, [r.summary.shortfall_bps or 0.0 for r in rebs], linestyle="none", marker="D",
             color="black", label="total")
    top.axhline(0.0, color="#888888", linewidth=0.8, label="zero")
    top.set_ylabel("IS, bps of paper notional (+ = cost)")
    s = d.summary
    is_txt = "-" if s.shortfall_bps is None else f"{s.shortfall_bps:.2f} bps"
    top.set_title(f"Execution {d.day.isoformat()}: {len(rebs)} rebalance(s), {s.orders} orders, "
                  f"IS {is_txt}, fill {s.fill_rate:.1%}", fontsize=10)
    top.legend(fontsize=8, ncols=3)
    for i, r in enumerate(rebs):
        slips = [o.tca.slippage_bps for o in r.orders if o.tca.slippage_bps is not None]
        bottom.scatter([i] * len(slips), slips, label=r.rebalance_id, s=18, alpha=0.8)
    bottom.axhline(0.0, color="#888888", linewidth=0.8, label="zero")
    bottom.set_ylabel("slippage per order, bps (+ = cost)")
    ids = [r.rebalance_id for r in rebs]
    for ax in (top, bottom):
        ax.set_xticks(x, ids, rotation=20, ha="right", fontsize=8)
        ax.set_xlim(-0.7, max(0.7, len(rebs) - 0.3))
        ax.grid(axis="y", alpha=0.3)
    return fig
