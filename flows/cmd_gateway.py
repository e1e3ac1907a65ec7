"""``afx gateway``: run the simulated IB Gateway in the foreground.

    afx gateway --port 4002 [--time-mode virtual|wall] [--speed 20] [--seed 7]

Prints one line saying where it listens, whether it runs in virtual or wall
time, the session time and the account, then serves until SIGINT/SIGTERM.
Point ``afx rebalance --broker ibkr`` (ibkr.port) at it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "gateway", help="run the simulated IB Gateway (TWS API) on a local port"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4002, help="4002 = IB Gateway paper convention; 0 = any free port")
    p.add_argument("--time-mode", choices=["virtual", "wall"], default="virtual")
    p.add_argument("--speed", type=float, default=20.0, help="virtual seconds per wall second (virtual mode)")
    p.add_argument("--seed", type=int, default=7, help="simulator seed")
    p.add_argument("--account", action="append", default=None, help="managed account id (repeatable)")
    p.add_argument("--sim-start", default=None, help="session start, ISO 8601 with offset (default: today's NYSE session at 10:30 New York)")
    p.add_argument("--nav", type=float, default=10_000_000.0, help="starting cash per account, USD")
    p.add_argument("--instruments", default="config/instruments.yaml")
    return p


async def _serve(cfg: Any) -> None:
    from lib.sim.tws_gateway import TwsGateway

    gw = TwsGateway(cfg)
    await gw.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(gw.describe(), flush=True)  # after the handlers: a signal right after this line stops cleanly
    try:
        await stop.wait()
    finally:
        await gw.stop()
        print("afx gateway: stopped", flush=True)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from lib.sim.tws_gateway import GatewayConfig

    try:
        start = datetime.fromisoformat(args.sim_start) if args.sim_start else None
        cfg = GatewayConfig(
            host=args.host, port=args.port, time_mode=args.time_mode, speed=args.speed, seed=args.seed,
            accounts=tuple(args.account or ["DU1234567"]), sim_start=start, nav_usd=args.nav,
            instruments_file=args.instruments,
        )  # fmt: skip
    except (ValueError, ValidationError) as exc:
        print(f"afx gateway: bad arguments: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(cfg))
    except OSError as exc:
        print(f"afx gateway: cannot listen on {cfg.host}:{cfg.port}: {exc}", file=sys.stderr)
        return 1
    return 0
