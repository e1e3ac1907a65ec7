"""The ``afx`` command line.

    afx demo                                   the demo rebalance (simulated broker, SQLite)
    afx rebalance --targets F [--broker sim|ibkr] [--dry-run] [--rebalance-id ID]
    afx history | show ID | report | gateway   the ledger and the simulated IB Gateway
                                               (flows/cmd_*.py); `afx CMD --help` for options

Both run the Prefect ``rebalance`` flow in-process (with no PREFECT_API_URL set,
Prefect starts a temporary local API), show a progress bar while orders are
supervised, and print at the end the plans (dry run) or one row per order,
then what was not traded and why (flows/cmd_results.py). Exit code 0 when every
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
from flows.cmd_results import print_results

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from lib.types import PolicyMode

    p = argparse.ArgumentParser(prog="afx", description="Execution stack command line")
    p.add_argument("--version", action="version", version=f"afx {_version()}",
                   help="print the installed version and exit")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo rebalance on the simulated broker")
    demo.add_argument("--verbose", action="store_true",
                      help="show Prefect's INFO logs (default: warnings and errors only)")
    rb = sub.add_parser("rebalance", help="run one rebalance from a targets file")
    rb.add_argument("--targets", required=True,
                    help="targets file (.yaml/.yml/.csv), relative to the project root (required)")
    rb.add_argument("--broker", choices=["sim", "ibkr"], default="sim",
                    help="sim: the seeded simulator on a virtual clock; ibkr: IB Gateway/TWS "
                         "(settings' ibkr: section) (choices: %(choices)s; default: %(default)s)")
    rb.add_argument("--dry-run", action="store_true",
                    help="plan only: print the plans, send nothing (default: off, orders are sent)")
    rb.add_argument("--rebalance-id", default=None,
                    help="idempotency key, 1-32 of A-Z a-z 0-9 . _ -; a rerun with the same id "
                         "trades only the residual (default: <portfolio>-<session date>-<schedule slug>)")
    rb.add_argument("--settings", default="config/settings.yaml",
                    help="settings file (default: %(default)s)")
    rb.add_argument("--mode", default=None, choices=[m.value for m in PolicyMode], metavar="MODE",
                    help="force one policy mode on every order (choices: %(choices)s; "
                         "default: the policy chooses per order)")
    rb.add_argument("--schedule-slug", default="manual",
                    help="schedule this run belongs to, part of the default id: lowercase, "
                         "digits, dashes, <= 16 (default: %(default)s)")
    rb.add_argument("--verbose", action="store_true",
                    help="show Prefect's INFO logs (default: warnings and errors only)")
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


def _run(params_kwargs: dict[str, Any], verbose: bool) -> int:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        # Quiet console, full run logs: the console handler shows warnings only,
        # while INFO (the rebalance story) still reaches the API's Logs tab.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
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
    print_results(out)
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
