"""``afx report``: one day's execution (every rebalance of it, the daily
summary's content) or rolling history over the last N days.

    afx report --date 2026-11-24 [--json]
    afx report --days 20 [--by instrument|asset_class|mode|sleeve|all] [--json]
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from typing import Any

from flows.cmd_ledger import add_common, open_ledger, print_json
from lib.daily import day_report, format_daily
from lib.history import DIMENSIONS, load_history, rolling

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="a day's execution report, or rolling history over N days")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--date", type=date.fromisoformat, help="session date YYYY-MM-DD")
    g.add_argument("--days", type=int, help="rolling history over the last N days")
    p.add_argument("--by", choices=DIMENSIONS, default="instrument",
                   help="history dimension (default: %(default)s)")
    p.add_argument("--until", type=date.fromisoformat, default=None,
                   help="last day of the history (default: today)")
    add_common(p)
    return p


def run(args: argparse.Namespace) -> int:
    ledger, registry, fx = open_ledger(args.settings)
    if args.date is not None:
        d = day_report(ledger, registry, args.date, fx_rate=fx)
        if args.json:
            print_json({"day": d.day, "summary": d.summary, "rebalances": [r.rebalance_id for r in d.rebalances],
                        "shortfall_by_currency": d.shortfall_by_currency, "shortfall_usd": d.shortfall_base,
                        "unconverted": d.unconverted,
                        "outliers": [{"rebalance": rid, "symbol": o.tca.symbol, "why": why}
                                     for rid, o, why in d.outliers]})
        else:
            msg = format_daily(d, "slack")
            print(msg.title)
            print(msg.body)
        return 0
    until = args.until or date.today()  # noqa: DTZ011
    since = until - timedelta(days=args.days - 1)
    rows, nets = load_history(ledger, registry, since=since, until=until, fx_rate=fx)
    windows = sorted({w for w in (1, 5, 20, args.days) if w <= args.days})
    stats = rolling(rows, nets, until=until, windows=windows, dimensions=(args.by,))
    if args.json:
        print_json(stats)
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Execution {since} .. {until} by {args.by} (bps, + = cost)")
    for col in ("key", "days", "orders", "fill", "slip mean", "med", "p95", "IS", "delay", "spread",
                "impact", "opp", "fees", "replaces", "commission", "net saved"):
        t.add_column(col, justify="right")

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    for s in stats:
        t.add_row(s.key, str(s.window_days), str(s.orders), f"{(s.fill_rate or 0):.1%}",
                  f(s.slippage_mean_bps), f(s.slippage_median_bps), f(s.slippage_p95_bps),
                  f(s.shortfall_bps), f(s.delay_bps), f(s.spread_bps), f(s.impact_bps),
                  f(s.opportunity_bps), f(s.fees_bps), str(s.replaces), f"{s.commission:,.2f}",
                  "-" if s.netting_saved_qty is None else f"{s.netting_saved_qty:,}")
    Console(width=170).print(t)
    return 0
