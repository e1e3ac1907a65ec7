"""The two pictures of one rebalance, from its ledger TCA
(:class:`lib.ledger_tca.RebalanceTCA`).

``slippage_figure``: one horizontal bar per parent order, its slippage in
bps of the arrival mid (+ = cost), beside two marks: the collar (how far the
plan allowed the price to go, in the order's cost direction: the high collar
for a buy, the low one for a sell) and the plan's ``max_slippage_bps`` cap.
Bars are coloured within the cap / over the cap / over the collar / price
improvement; an unfilled order has a zero-length grey bar and says so. Above
``MAX_BARS`` orders the worst ``MAX_BARS`` (by slippage) are drawn and the
title says how many were left out.

``progress_figure``: per order, the filled fraction of its requested
quantity (%) over minutes since the rebalance's first order went out (a step
line from its start at 0 %), so slow, partial and stuck orders stand out.

Series (what tests count): slippage axes: one bar container (label
``slippage``), lines ``collar``, ``cap`` and ``zero``; progress axes: one
line per order, labelled ``"<symbol> <side>"``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lib.charts.figure import COLOURS, new_figure
from lib.ledger_tca import OrderReport, RebalanceTCA
from lib.types import Side

__all__ = ["MAX_BARS", "MAX_LEGEND", "collar_bps", "progress_figure", "slippage_figure"]

#: Most orders drawn in the slippage chart (the worst ones).
MAX_BARS = 40
#: Above this many orders the progress chart has no legend (it would cover the lines).
MAX_LEGEND = 15
_BPS = 1e4


def collar_bps(o: OrderReport) -> float | None:
    """The collar's distance from the arrival mid in the order's cost
    direction, bps (None without an arrival mid)."""
    mid = o.tca.arrival_mid
    if not mid or not math.isfinite(mid):
        return None
    if o.tca.side is Side.BUY:
        return (o.collar_high - mid) / mid * _BPS
    return (mid - o.collar_low) / mid * _BPS


def _label(o: OrderReport) -> str:
    t = o.tca
    return f"{t.symbol} {t.side.value} {t.filled_quantity}/{t.requested_quantity}"


def _colour(o: OrderReport, collar: float | None) -> str:
    s = o.tca.slippage_bps
    if s is None:
        return COLOURS["unfilled"]
    if s <= 0:
        return COLOURS["improved"]
    if collar is not None and s > collar:
        return COLOURS["over_collar"]
    return COLOURS["over_cap"] if s > o.max_slippage_bps else COLOURS["within"]


def slippage_figure(t: RebalanceTCA) -> Figure:
    """Slippage per order against its collar and cap (module docstring)."""
    orders = list(t.orders)
    shown = sorted(orders, key=lambda o: -(o.tca.slippage_bps if o.tca.slippage_bps is not None
                                           else -math.inf))[:MAX_BARS]
    shown.reverse()  # barh draws bottom-up: worst on top
    fig = new_figure(11.0, 2.2 + 0.35 * max(1, len(shown)))
    ax = fig.axes[0]
    y = list(range(len(shown)))
    collars = [collar_bps(o) for o in shown]
    widths = [o.tca.slippage_bps or 0.0 for o in shown]
    ax.barh(y, widths, color=[_colour(o, c) for o, c in zip(shown, collars, strict=True)],
            label="slippage", height=0.6)
    ax.plot([c if c is not None else math.nan for c in collars], y, linestyle="none",
            marker="|", markersize=14, markeredgewidth=2, color=COLOURS["collar"], label="collar")
    ax.plot([o.max_slippage_bps for o in shown], y, linestyle="none", marker="x",
            color=COLOURS["cap"], label="cap")
    ax.axvline(0.0, color="#888888", linewidth=0.8, label="zero")
    for yi, o in zip(y, shown, strict=True):
        if o.tca.slippage_bps is None:
            ax.annotate("unfilled", (0.0, yi), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=8, color="#555555")
    ax.set_yticks(y, [_label(o) for o in shown], fontsize=8)
    ax.set_xlabel("slippage vs arrival mid, bps (+ = cost); | collar, x cap")
    left_out = len(orders) - len(shown)
    title = f"{t.rebalance_id}: slippage per order vs collar"
    if left_out:
        title += f" (worst {len(shown)} of {len(orders)})"
    ax.set_title(title, fontsize=10)
    ax.legend(handles=_legend(ax), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def _legend(ax: Axes) -> list[Artist]:
    """The bar colours' meaning, then the collar and cap marks."""
    kinds = (("improved", "price improvement"), ("within", "within cap"),
             ("over_cap", "over cap"), ("over_collar", "over collar"), ("unfilled", "unfilled"))
    handles: list[Artist] = [Patch(color=COLOURS[k], label=text) for k, text in kinds]
    return handles + [line for line in ax.lines if line.get_label() in ("collar", "cap")]


def _start(t: RebalanceTCA) -> datetime:
    starts = [o.started_at for o in t.orders if o.started_at is not None]
    starts += [o.fills[0][0] for o in t.orders if o.fills]
    return min(starts) if starts else t.created_at


def _end(t: RebalanceTCA, t0: datetime) -> datetime:
    """The last fill, plus 5 % of the span (the rebalance's finished_at comes
    after the post-run market sampling, half an hour later on the simulator)."""
    last = [o.fills[-1][0] for o in t.orders if o.fills]
    if not last:
        return max(t0, t.finished_at or t0)
    end = max(last)
    return end + max(end - t0, timedelta(seconds=60)) * 0.05


def progress_figure(t: RebalanceTCA) -> Figure:
    """Fill progress over time per order (module docstring)."""
    fig = new_figure(10.0, 5.0)
    ax = fig.axes[0]
    t0 = _start(t)
    end_min = (_end(t, t0) - t0).total_seconds() / 60.0

    def minutes(ts: datetime) -> float:
        return (ts - t0).total_seconds() / 60.0

    for o in t.orders:
        req = o.tca.requested_quantity or 1
        begin = minutes(o.started_at) if o.started_at is not None else 0.0
        xs, ys, done = [begin], [0.0], 0
        for ts, qty, _price in o.fills:
            done += qty
            xs.append(minutes(ts))
            ys.append(min(100.0, 100.0 * done / req))
        xs.append(max(end_min, xs[-1]))
        ys.append(ys[-1])
        ax.step(xs, ys, where="post", label=f"{o.tca.symbol} {o.tca.side.value}", linewidth=1.4)
    ax.set_ylim(-2, 105)
    ax.set_xlabel(f"minutes since the first order ({t0:%Y-%m-%d %H:%M:%S} UTC)")
    ax.set_ylabel("filled, % of requested")
    ax.set_title(f"{t.rebalance_id}: fill progress per order", fontsize=10)
    ax.grid(alpha=0.3)
    if 0 < len(t.orders) <= MAX_LEGEND:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig
