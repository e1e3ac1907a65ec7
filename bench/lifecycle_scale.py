"""Order-lifecycle scale benchmark: 1,000 concurrent orders under one OrderManager.

    python bench/lifecycle_scale.py [--orders 1000] [--repeats 3] [--out var/bench] [--json-only]

Passive limits (4-6 ticks behind the near touch, a passive reprice ladder
that creeps toward it every replace interval, stopping 2 ticks short) on several symbols of the
simulator (VirtualClock), so the orders stay working, are replaced several
times, and end filled (the market trades through them) or expired (TTL).
Measured with time.perf_counter, medians over repeats:

* poll(): wall cost of one OrderManager.poll() cycle (one batch status call
  for every live order plus timers and any replaces/cancels it sends) - mean
  and p99 over the cycles of a run; target <= 20 ms at 1,000 live orders;
* sim step: wall cost of one virtual second of the simulator (not our layer);
* orders/s: orders taken through the whole lifecycle (submit -> replaces ->
  fill/expire) per wall second, submit + polls + sim steps included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from lib.brokers.sim import SimBroker  # noqa: E402
from lib.clock import VirtualClock  # noqa: E402
from lib.config import load_settings  # noqa: E402
from lib.instruments import load_instruments  # noqa: E402
from lib.orders.manager import OrderManager  # noqa: E402
from lib.orders.states import OrderState  # noqa: E402
from lib.policy import ExecutionPolicy  # noqa: E402
from lib.sim.presets import bench_config  # noqa: E402
from lib.types import OrderIntent, PolicyMode, Side  # noqa: E402

SYMBOLS = ("SPY", "QQQ", "IWM", "TLT", "ES")
POLL_TARGET_MS = 20.0
_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def one_run(n_orders: int, seed: int) -> dict[str, float]:
    reg = load_instruments()
    cfg = load_settings().execution
    clock = VirtualClock(_OPEN)
    broker = SimBroker(clock, bench_config(seed, symbols=SYMBOLS, session_offset_s=0.0), reg)
    clock.advance(1800.0)
    policy = ExecutionPolicy(cfg, reg, clock)
    manager = OrderManager(broker, clock, cfg, market_data=None)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for i in range(n_orders):
        sym = SYMBOLS[i % len(SYMBOLS)]
        inst = reg[sym]
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        snap = broker.get_market_data(sym)
        plan = policy.create_plan(OrderIntent(f"o{i}", sym, side, int(rng.integers(1, 20)), mode=PolicyMode.PASSIVE_FIRST), snap)
        near = plan.limit_price
        assert near is not None
        back = int(rng.integers(4, 7))  # ticks behind the near touch (inside every collar)
        # creeps toward the touch but stays 2 ticks behind it: most orders work to their TTL
        rungs = tuple(inst.round_to_tick(near - side.sign * k * inst.tick_size) for k in range(back - 1, 1, -1))
        start = inst.round_to_tick(near - side.sign * back * inst.tick_size)
        plan = replace(plan, limit_price=start, reprice_ladder=rungs, max_replace_attempts=len(rungs))
        manager.submit(plan, f"ls:{i}:s0:a0")
    t_submit = time.perf_counter() - t0
    polls: list[float] = []
    steps: list[float] = []
    live_at_poll: list[int] = []
    while manager.live_tickets:
        a = time.perf_counter()
        clock.sleep(1.0)
        b = time.perf_counter()
        live_at_poll.append(len(manager.live_tickets))
        manager.poll()
        c = time.perf_counter()
        steps.append(b - a)
        polls.append(c - b)
    total = time.perf_counter() - t0
    tickets = manager.tickets
    states = [t.state for t in tickets]
    busy = [p for p, n in zip(polls, live_at_poll, strict=True) if n >= 0.9 * n_orders]
    return {
        "orders": n_orders,
        "submit_ms_per_order": 1e3 * t_submit / n_orders,
        "poll_mean_ms": 1e3 * statistics.fmean(polls),
        "poll_p99_ms": 1e3 * float(np.percentile(polls, 99)),
        "poll_mean_ms_at_90pct_live": 1e3 * statistics.fmean(busy) if busy else float("nan"),
        "sim_step_mean_ms": 1e3 * statistics.fmean(steps),
        "cycles": len(polls),
        "virtual_s": (clock.now() - _OPEN).total_seconds() - 1800.0,
        "wall_s": total,
        "orders_per_s": n_orders / total,
        "replaces": sum(t.replace_count for t in tickets),
        "messages": sum(t.messages for t in tickets),
        "filled": sum(1 for s in states if s == OrderState.FILLED),
        "expired": sum(1 for s in states if s == OrderState.EXPIRED),
        "other": sum(1 for s in states if s not in (OrderState.FILLED, OrderState.EXPIRED)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("var/bench"))
    ap.add_argument("--json-only", action="store_true")
    args = ap.parse_args(argv)
    runs = [one_run(args.orders, args.seed + r) for r in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    if not args.json_only:
        keys = ["submit_ms_per_order", "poll_mean_ms", "poll_p99_ms", "poll_mean_ms_at_90pct_live", "sim_step_mean_ms",
                "cycles", "virtual_s", "wall_s", "orders_per_s", "replaces", "messages", "filled", "expired", "other"]  # fmt: skip
        width = max(len(k) for k in keys)
        print(f"Lifecycle scale: {args.orders} concurrent orders on {', '.join(SYMBOLS)} (SimBroker, VirtualClock); "
              f"median of {args.repeats} runs")  # fmt: skip
        print(f"{'metric'.ljust(width)}  {'median':>10}  " + "  ".join(f"{'run' + str(i):>10}" for i in range(len(runs))))
        for k in keys:
            print(f"{k.ljust(width)}  {med[k]:>10.3f}  " + "  ".join(f"{r[k]:>10.3f}" for r in runs))
        verdict = "PASS" if med["poll_p99_ms"] <= POLL_TARGET_MS else "FAIL"
        print(f"{verdict}  poll() p99 {med['poll_p99_ms']:.2f} ms (mean {med['poll_mean_ms']:.2f} ms) vs target <= {POLL_TARGET_MS:g} ms")
    stamp = datetime.now(UTC)
    path = args.out / f"lifecycle_scale_{stamp:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"timestamp": stamp.isoformat(), "orders": args.orders, "symbols": SYMBOLS,
                                "poll_target_ms": POLL_TARGET_MS, "median": med, "runs": runs}, indent=1))  # fmt: skip
    if not args.json_only:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
