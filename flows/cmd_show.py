"""``afx show ID``: one rebalance: plan, orders, fills, TCA (IS parts,
benchmarks, markouts), blocks, dropped items and outliers.

    afx show main-2026-11-24-us-open [--json] [--png]

``--png`` also writes the rebalance's two pictures (slippage per order
against its collar; fill progress per order) under var/charts/rebalance/
(lib/charts) and prints a ``chart: <path>`` line for each (with ``--json``:
a ``charts`` list beside the TCA), or why there is nothing to draw.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flows.cmd_ledger import add_common, open_ledger, print_json, to_jsonable
from lib.charts import ChartFiles, render_rebalance
from lib.errors import LedgerError, ReportingError
from lib.ledger_tca import RebalanceTCA, rebalance_tca

__all__ = ["add_parser", "print_charts", "print_rebalance", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "show", help="one rebalance: plans, orders, fills, TCA, blocks")
    p.add_argument("rebalance_id", help="the rebalance id (see `afx history`)")
    p.add_argument("--png", action="store_true",
                   help="also write the slippage and fill-progress PNGs under var/charts/rebalance/ "
                        "and print their paths (default: off)")
    add_common(p)
    return p


def _f(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def print_rebalance(t: RebalanceTCA) -> None:
    from rich.console import Console
    from rich.table import Table

    c = Console(width=160)
    s = t.summary
    c.print(f"[bold]{t.rebalance_id}[/bold] {t.status} schedule {t.schedule} session {t.session_date}")
    tab = Table(title="Orders (bps, + = cost)")
    for col in ("symbol", "side", "mode", "filled/req", "limit", "collar", "slices", "avg", "slip",
                "IS", "delay", "spread", "impact", "opp", "fees", "vs VWAP", "mk+1", "mk+5", "mk+30",
                "broker ids"):
        tab.add_column(col, justify="right")
    for o in t.orders:
        x, b = o.tca, o.bench
        tab.add_row(x.symbol, x.side.value, x.mode.value, f"{x.filled_quantity}/{x.requested_quantity}",
                    _f(o.limit_price, "g"), f"{o.collar_low:g}-{o.collar_high:g}", str(o.n_slices),
                    _f(x.avg_price, "g"), _f(x.slippage_bps), _f(x.shortfall_bps), _f(x.delay_bps),
                    _f(x.spread_bps), _f(x.impact_bps), _f(x.opportunity_bps), _f(x.fees_bps),
                    _f(b.vs_vwap_bps), *(_f(b.markouts_bps.get(k)) for k in (1, 5, 30)),
                    ",".join(o.broker_order_ids) or "-")
    c.print(tab)
    c.print(f"IS {_f(s.shortfall_bps)} bps = delay {_f(s.delay_bps)} + spread {_f(s.spread_bps)}"
            f" + impact {_f(s.impact_bps)} + opp {_f(s.opportunity_bps)} + fees {_f(s.fees_bps)}")
    money = ", ".join(f"{v:,.2f} {k}" for k, v in t.shortfall_by_currency.items())
    c.print(f"IS money: {money or '-'}; USD total {t.shortfall_base:,.2f}"
            + (f" (not converted: {', '.join(t.unconverted)})" if t.unconverted else ""))
    c.print(f"Netting saved {t.netting_saved_qty:,} units / {t.netting_saved_notional:,.0f}")
    for control, sym, detail in t.blocks:
        c.print(f"[yellow]blocked[/yellow] {sym or '(rebalance)'} ({control}): {detail}")
    for sym, why in t.dropped:
        c.print(f"[yellow]dropped[/yellow] {sym}: {why}")
    for o, why in t.outliers:
        c.print(f"[red]outlier[/red] {o.tca.symbol} {o.tca.side.value}: {why}")


def run(args: argparse.Namespace) -> int:
    ledger, registry, fx = open_ledger(args.settings)
    try:
        t = rebalance_tca(ledger, registry, args.rebalance_id, fx_rate=fx)
    except LedgerError as exc:
        print(f"error: {exc}")
        return 2
    try:
        charts = render_rebalance(t) if args.png else None
    except ReportingError as exc:
        print(f"afx show: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(t if charts is None else {**to_jsonable(t), "charts": [str(p) for p in charts.paths],
                                             "charts_note": charts.note})
        return 0
    print_rebalance(t)
    if charts is not None:
        print_charts(charts)
    return 0


def print_charts(charts: ChartFiles) -> None:
    """``chart: <path>`` per file written, or ``no chart: <why>``."""
    for p in charts.paths:
        print(f"chart: {p}")
    if charts.note:
        print(f"no chart: {charts.note}")
