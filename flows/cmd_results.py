"""What ``afx rebalance`` / ``afx demo`` print at the end of a run, from the
flow's return value (flows/report.py ``summary_dict``).

A dry run prints its plans (mode, limit, collar, slices: what would be
sent); a real run prints one row per order result. Every run then lists what
was not traded and why (skipped below the drift threshold, deferred by
session gating, dropped below the minimum notional, blocked by a risk
control, rejected by the policy), and the chart files when the run wrote
any (``charts`` in the return value).
"""

from __future__ import annotations

from typing import Any

__all__ = ["print_results"]

_KIND = {"skipped_drift": "skipped (drift)", "deferred": "deferred", "dropped": "dropped",
         "blocked": "blocked", "rejected": "rejected"}


def _f(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def _plans_table(out: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    t = Table(title=title)
    for col in ("symbol", "side", "qty", "mode", "type", "limit", "collar", "arrival mid",
                "cap bps", "slices", "TTL s"):
        t.add_column(col, justify="left" if col in ("symbol", "side", "mode", "type") else "right")
    for p in out.get("planned", []):
        slices = str(p["slices"]) + (f" {p['slice_style']}" if p.get("slice_style") else "")
        t.add_row(p["symbol"], p["side"], str(p["quantity"]), p["mode"], p["order_type"],
                  _f(p["limit"], "g"), f"{p['collar_low']:g}-{p['collar_high']:g}",
                  _f(p["arrival_mid"], "g"), _f(p["max_slippage_bps"], "g"), slices,
                  _f(p["ttl_seconds"], "g"))
    return t


def _results_table(out: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    t = Table(title=title)
    for col in ("symbol", "side", "filled/req", "avg price", "slip bps", "status", "mode", "replaces"):
        t.add_column(col, justify="right" if col in ("filled/req", "avg price", "slip bps", "replaces") else "left")
    for r in out["results"]:
        t.add_row(
            r["symbol"], r["side"], f"{r['filled']}/{r['requested']}", _f(r["avg_price"], ".4f"),
            _f(r["slippage_bps"]), r["status"], r["mode"], str(r["replaces"]),
        )
    return t


def _not_traded_table(rows: list[dict[str, str]]) -> Any:
    from rich.table import Table

    t = Table(title="Not traded")
    for col in ("what", "item", "reason"):
        t.add_column(col)
    for r in rows:
        style = "red" if r["kind"] in ("blocked", "rejected") else "yellow"
        t.add_row(f"[{style}]{_KIND.get(r['kind'], r['kind'])}[/{style}]", r["item"], r["reason"])
    return t


def print_results(out: dict[str, Any]) -> None:
    """The run's tables and lines (module docstring)."""
    from rich.console import Console

    console = Console(width=max(100, Console().width))
    title = f"Rebalance {out['rebalance_id']}" + (" (dry run)" if out["dry_run"] else "")
    if out.get("rerun"):
        title += f" - rerun, attempt {out.get('attempt', '?')}"
    if out["dry_run"]:
        console.print(_plans_table(out, title + ": plans, nothing sent"))
    else:
        console.print(_results_table(out, title))
    console.print(
        f"intents {out['intents']}, net orders {out['net_orders']}, netting saved "
        f"{out['netting_qty_saved']} units, plans {out['plans']}, orders sent {out.get('orders_sent', 0)}"
    )
    rows = out.get("not_traded", [])
    if rows:
        console.print(_not_traded_table(rows))
    else:
        console.print("Not traded: nothing (nothing skipped, deferred, dropped, blocked or rejected)")
    for path in out.get("charts", []):
        console.print(f"chart: {path}")
