"""The ``afx`` command line.

    afx demo                                   the demo rebalance (simulated broker, SQLite)
    afx rebalance --targets F [--broker sim|ibkr] [--dry-run] [--rebalance-id ID]

Both run the Prefect ``rebalance`` flow in-process (with no PREFECT_API_URL set,
Prefect starts a temporary local API), show a progress bar while orders are
supervised, and print a results table at the end. Exit code 0 when every
order completed, 1 when something was left unfilled, rejected or blocked,
2 on bad input (nothing sent), 3 when no Prefect API could be started or
reached (nothing sent; see flows/prefect_api.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

from flows import cmd_gateway, cmd_history, cmd_report, cmd_show

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="afx", description="Execution stack command line")
    p.add_argument("--version", action="version", version=f"afx {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo rebalance on the simulated broker")
    demo.add_argument("--verbose", action="store_true", help="show Prefect's INFO logs")
    rb = sub.add_parser("rebalance", help="run one rebalance from a targets file")
    rb.add_argument("--targets", required=True, help="targets file (.yaml/.yml/.csv)")
    rb.add_argument("--broker", choices=["sim", "ibkr"], default="sim")
    rb.add_argument("--dry-run", action="store_true", help="plan only; nothing is sent")
    rb.add_argument("--rebalance-id", default=None, help="idempotency key (rerun = same id)")
    rb.add_argument("--settings", default="config/settings.yaml")
    rb.add_argument("--mode", default=None, help="force a policy mode, e.g. auction_close")
    rb.add_argument("--schedule-slug", default="manual")
    rb.add_argument("--verbose", action="store_true", help="show Prefect's INFO logs")
    cmd_gateway.add_parser(sub)
    for cmd in (cmd_history, cmd_show, cmd_report):
        cmd.add_parser(sub)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("afx-execution")
    except PackageNotFoundError:
        return "unknown"


def _print_results(out: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(100, Console().width))
    title = f"Rebalance {out['rebalance_id']}" + (" (dry run)" if out["dry_run"] else "")
    if out.get("rerun"):
        title += f" - rerun, attempt {out.get('attempt', '?')}"
    table = Table(title=title)
    for col in ("symbol", "side", "filled/req", "avg price", "slip bps", "status", "mode", "replaces"):
        table.add_column(col, justify="right" if col in ("filled/req", "avg price", "slip bps", "replaces") else "left")
    for r in out["results"]:
        table.add_row(
            r["symbol"], r["side"], f"{r['filled']}/{r['requested']}",
            "-" if r["avg_price"] is None else f"{r['avg_price']:.4f}",
            "-" if r["slippage_bps"] is None else f"{r['slippage_bps']:.2f}",
            r["status"], r["mode"], str(r["replaces"]),
        )
    console.print(table)
    console.print(
        f"intents {out['intents']}, net orders {out['net_orders']}, netting saved "
        f"{out['netting_qty_saved']} units, plans {out['plans']}, orders sent {out.get('orders_sent', 0)}"
    )
    for label in ("deferred", "dropped_min_notional", "risk_blocks"):
        for item in out[label]:
            console.print(f"[yellow]{label}[/yellow]: {item}")
    for intent, why in out["rejected"].items():
        console.print(f"[red]rejected[/red] {intent}: {why}")


def _run(params_kwargs: dict[str, Any], verbose: bool) -> int:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from pydantic import ValidationError

    from flows.cli_errors import USER_ERRORS, check_input, param_problems, print_user_error
    from lib.params import RebalanceParams

    try:
        params = RebalanceParams(**params_kwargs)
    except ValidationError as exc:
        print_user_error(param_problems(exc))
        return 2
    try:
        check_input(params)  # before Prefect starts: bad files cost no flow run, no alert
    except USER_ERRORS as exc:
        print_user_error(exc)
        return 2
    from rich.progress import Progress

    from flows.cli_errors import quiet_user_errors
    from flows.rebalance import rebalance
    from lib.errors import IdempotencyConflict, PlanRejected
    from tasks.steps import set_progress_listener

    if not verbose:
        quiet_user_errors()
    from flows.prefect_api import EXIT_API_UNAVAILABLE, PrefectApiUnavailable, ensure_prefect_api

    try:
        ensure_prefect_api()  # a new Prefect home needs ~20 s: Prefect's own time-out
    except PrefectApiUnavailable as exc:
        print(f"afx: {exc}\nafx: nothing was sent.", file=sys.stderr)
        return EXIT_API_UNAVAILABLE
    # No stdout/stderr redirection: Prefect's log handlers keep a reference
    # to the stream they first saw, which must outlive the bar.
    with Progress(transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        job = bar.add_task("supervising orders", total=None)
        set_progress_listener(lambda done, total: bar.update(job, completed=done, total=total))
        try:
            # A Blocked run ends Failed (named): take its summary, not an exception.
            out = rebalance(params, return_state=True).result(raise_on_failure=False)
            if isinstance(out, BaseException):
                raise out
        except (*USER_ERRORS, PlanRejected, IdempotencyConflict) as exc:
            print_user_error(exc)
            return 2
        finally:
            set_progress_listener(None)
    _print_results(out)
    incomplete = [r for r in out["results"] if r["status"] != "filled"]
    return 1 if incomplete or out["risk_blocks"] or out["rejected"] else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "gateway":
        return cmd_gateway.run(args)
    if args.command in ("history", "show", "report"):
        return {"history": cmd_history, "show": cmd_show, "report": cmd_report}[args.command].run(args)
    if args.command == "demo":
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        rid = f"demo-{stamp}"
        return _run(
            {"targets": "config/targets.demo.yaml", "rebalance_id": rid, "schedule_slug": "demo",
             "sim_state": f"var/sim/{rid}.json"},
            args.verbose,
        )
    kwargs: dict[str, Any] = {
        "targets": args.targets, "broker": args.broker, "dry_run": args.dry_run,
        "settings": args.settings, "schedule_slug": args.schedule_slug,
    }
    if args.rebalance_id:
        kwargs["rebalance_id"] = args.rebalance_id
    if args.mode:
        kwargs["mode"] = args.mode
    return _run(kwargs, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
