"""``afx history``: past rebalances, newest first.

    afx history [--limit 20] [--days N] [--json]

``--days N``: session dates from N-1 days before today's session date (New
York, flows/cmd_ledger.py ``session_today``) to the newest.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from flows.cmd_ledger import add_common, open_ledger, positive_int, print_json, session_today
from lib.clock import Clock

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser("history", help="past rebalances, newest first")
    p.add_argument("--limit", type=positive_int, default=20,
                   help="how many rebalances at most (default: %(default)s)")
    p.add_argument("--days", type=positive_int, default=None,
                   help="only session dates in the last N days, today's New York session date "
                        "included (default: all)")
    add_common(p)
    return p


def run(args: argparse.Namespace, clock: Clock | None = None) -> int:
    ledger, _, _ = open_ledger(args.settings)
    since = session_today(clock) - timedelta(days=args.days - 1) if args.days else None
    rows = []
    for r in ledger.list_rebalances(since=since, limit=args.limit):
        orders = ledger.orders_for_rebalance(r.rebalance_id)
        rows.append({"rebalance_id": r.rebalance_id, "status": r.status, "schedule": r.schedule,
                     "session_date": r.session_date, "created_at": r.created_at,
                     "wall_created_at": r.wall_created_at, "finished_at": r.finished_at,
                     "orders": len(orders),
                     "filled": sum(1 for o in orders if o.status == "FILLED")})
    if args.json:
        print_json(rows)
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Rebalances (newest first)")
    for col in ("rebalance", "status", "schedule", "session", "started (wall, UTC)", "orders"):
        t.add_column(col)
    for row in rows:
        wall = row["wall_created_at"]
        t.add_row(row["rebalance_id"], row["status"], row["schedule"], str(row["session_date"]),
                  wall.strftime("%Y-%m-%d %H:%M:%S") if wall else "-", f"{row['filled']}/{row['orders']}")
    Console(width=120).print(t)
    return 0
