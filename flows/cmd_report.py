"""``afx report``: one day's execution (every rebalance of it, the daily
summary's content) or rolling history over the last N days.

    afx report --date 2026-11-24 [--json] [--png]
    afx report --days 20 [--by instrument|asset_class|mode|sleeve|all] [--until D] [--json]

Days are session dates (New York). ``--days N`` ends at ``--until``, by
default today's session date (flows/cmd_ledger.py ``session_today``, from
the clock, not the machine's local date). ``--png`` (with ``--date``) also
writes the day's picture under var/charts/daily/ and prints its path.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from typing import Any

from flows.cmd_ledger import add_common, open_ledger, positive_int, print_json, session_today
from flows.cmd_show import print_charts
from lib.charts import render_day
from lib.clock import Clock
from lib.daily import day_report, format_daily
from lib.errors import ReportingError
from lib.history import DIMENSIONS, load_history, rolling

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="a day's execution report, or rolling history over N days")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--date", type=date.fromisoformat,
                   help="one session date, YYYY-MM-DD: every rebalance of that day "
                        "(this or --days is required)")
    g.add_argument("--days", type=positive_int,
                   help="rolling history over the last N session days up to --until, in windows "
                        "of 1, 5, 20 and N days (this or --date is required)")
    p.add_argument("--by", choices=DIMENSIONS, default="instrument",
                   help="history dimension, with --days (choices: %(choices)s; default: %(default)s)")
    p.add_argument("--until", type=date.fromisoformat, default=None,
                   help="last session date of the history, YYYY-MM-DD, with --days "
                        "(default: today's session date in New York)")
    p.add_argument("--png", action="store_true",
                   help="with --date: also write the day's chart under var/charts/daily/ and "
                        "print its path (default: off)")
    add_common(p)
    return p


def run(args: argparse.Namespace, clock: Clock | None = None) -> int:
    if args.png and args.date is None:
        print("afx report: --png needs --date (one day's chart)", file=sys.stderr)
        return 2
    ledger, registry, fx = open_ledger(args.settings)
    if args.date is not None:
        d = day_report(ledger, registry, args.date, fx_rate=fx)
        try:
            charts = render_day(d) if args.png else None
        except ReportingError as exc:
            print(f"afx report: {exc}", file=sys.stderr)
            return 1
        if args.json:
            out: dict[str, Any] = {
                "day": d.day, "summary": d.summary, "rebalances": [r.rebalance_id for r in d.rebalances],
                "shortfall_by_currency": d.shortfall_by_currency, "shortfall_usd": d.shortfall_base,
                "unconverted": d.unconverted,
                "outliers": [{"rebalance": rid, "symbol": o.tca.symbol, "why": why}
                             for rid, o, why in d.outliers]}
            if charts is not None:
                out |= {"charts": [str(p) for p in charts.paths], "charts_note": charts.note}
            print_json(out)
            return 0
        msg = format_daily(d, "slack")
        print(msg.title)
        print(msg.body)
        if charts is not None:
            print_charts(charts)
        return 0
    until = args.until or session_today(clock)
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
