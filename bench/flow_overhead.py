"""Flow overhead: what the rebalance flow costs beyond Prefect's own floor.

    .venv/bin/python bench/flow_overhead.py [--sizes 10 100 1000] [--repeats 3] [--json]

1. Prefect's floor: a flow of 11 no-op tasks (the rebalance flow's shape), run
   in the same process against the same API, median of ``--repeats``.
2. The rebalance flow for N orders (N distinct instruments cloned from the SPY
   profile into a synthetic registry, marketable orders below top of book, so
   each fills within a second of virtual time), median wall time; overhead =
   flow - floor, also per order.
3. Net + plan for 10,000 intents (lib only, no Prefect): BasketExecutor over
   10,000 sleeve intents on 1,000 symbols, then one ExecutionPolicy plan per
   net intent. Target: <= 100 ms.

Prints a table and, with --json, one JSON document (also written to
var/bench/flow_overhead.json). Wall-clock benchmarks: quote medians measured
side by side in one run; these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import yaml  # noqa: E402

START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _registry_file(n: int, folder: Path) -> Path:
    rows = [
        {"symbol": f"S{i:04d}", "asset_class": "ETF", "exchange": "ARCA", "currency": "USD",
         "tick_size": 0.01, "multiplier": 1, "calendar": "NYSE", "session_seconds": 23400,
         "profile": {"price": 100.0, "spread_bps": 1.0, "daily_vol": 0.01, "adv": 20_000_000,
                     "top_of_book": 5000}}
        for i in range(n)
    ]
    path = folder / f"instruments_{n}.yaml"
    path.write_text(yaml.safe_dump({"instruments": rows}))
    return path


def _settings_file(instruments: Path, folder: Path) -> Path:
    text = (ROOT / "config" / "settings.yaml").read_text()
    text = text.replace("instruments_file: config/instruments.yaml", f"instruments_file: {instruments}")
    text = text.replace("kill_switch_file: var/KILL_SWITCH", "kill_switch_file: null")
    text = text.replace("max_gross_notional_usd: 25000000", "max_gross_notional_usd: 10000000000")
    path = folder / f"settings_{instruments.stem}.yaml"
    path.write_text(text)
    return path


def _targets_file(n: int, folder: Path) -> Path:
    trades = [{"symbol": f"S{i:04d}", "side": "BUY" if i % 2 else "SELL", "quantity": 100}
              for i in range(n)]
    path = folder / f"targets_{n}.yaml"
    path.write_text(yaml.safe_dump({"sleeves": {"bench": {"trades": trades}}}))
    return path


def bench_flows(sizes: list[int], repeats: int, folder: Path) -> list[dict[str, float]]:
    from prefect import flow, task

    from flows.rebalance import rebalance
    from lib.params import RebalanceParams
    from lib.runtime import clear_runtimes

    @task
    def noop(x: int) -> int:
        return x

    @flow
    def floor_flow() -> int:
        return sum(noop(i) for i in range(11))

    os.environ["EXEC_VAR_DIR"] = str(folder / "var")
    os.environ["EXEC_DATABASE_URL"] = f"sqlite:///{folder / 'ledger.sqlite'}"
    floor_flow()  # warm-up (starts the temporary API)
    floors = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        floor_flow()
        floors.append(time.perf_counter() - t0)
    floor = statistics.median(floors)
    rows = []
    for n in sizes:
        inst = _registry_file(n, folder)
        settings = _settings_file(inst, folder)
        targets = _targets_file(n, folder)
        walls = []
        for r in range(repeats):
            clear_runtimes()
            params = RebalanceParams(targets=str(targets), settings=str(settings),
                                     rebalance_id=f"ovh-{n}-{r}", sim_start=START,
                                     sim_persist=False)
            t0 = time.perf_counter()
            out = rebalance(params)
            walls.append(time.perf_counter() - t0)
            filled = sum(1 for x in out["results"] if x["status"] == "filled")
            assert filled == n, f"{filled}/{n} orders filled"
        wall = statistics.median(walls)
        rows.append({"orders": n, "flow_s": wall, "floor_s": floor, "overhead_s": wall - floor,
                     "overhead_ms_per_order": 1000 * (wall - floor) / n})
    return rows


def bench_net_plan(repeats: int, folder: Path) -> dict[str, float]:
    from lib.basket import BasketExecutor
    from lib.clock import VirtualClock
    from lib.config import ExecutionConfig
    from lib.instruments import load_instruments
    from lib.policy import ExecutionPolicy
    from lib.types import MarketDataSnapshot, OrderIntent, Side

    registry = load_instruments(_registry_file(1000, folder))
    cfg = ExecutionConfig()
    clock = VirtualClock(START)
    symbols = list(registry)
    intents = [
        OrderIntent(f"b:sleeve{i % 10}:{symbols[i % 1000]}", symbols[i % 1000],
                    Side.BUY if (i // 1000) % 3 else Side.SELL, 100 + i % 7, sleeve=f"sleeve{i // 1000}")
        for i in range(10_000)
    ]
    prices = dict.fromkeys(symbols, 100.0)
    snaps = {s: MarketDataSnapshot(s, 99.99, 100.01, ts=START) for s in symbols}
    basket = BasketExecutor(cfg, registry)
    policy = ExecutionPolicy(cfg, registry, clock)
    times = []
    for _ in range(max(5, repeats)):
        t0 = time.perf_counter()
        result = basket.net_trades(intents, prices, rebalance_id="b")
        for net in result.net_intents:
            policy.create_plan(net, snaps[net.symbol])
        times.append(time.perf_counter() - t0)
    return {"intents": 10_000, "net_orders": len(result.net_intents),
            "median_ms": 1000 * statistics.median(times), "min_ms": 1000 * min(times),
            "target_ms": 100.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = bench_net_plan(args.repeats, folder)
        rows = bench_flows(args.sizes, args.repeats, folder)
    doc = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "flows": rows, "net_plan": net}
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow_overhead.json").write_text(json.dumps(doc, indent=2))
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"Flow overhead ({doc['date']}, medians of {args.repeats})")
    print(f"{'orders':>7} {'flow s':>8} {'floor s':>8} {'overhead s':>11} {'ms/order':>9}")
    for r in rows:
        print(f"{r['orders']:>7} {r['flow_s']:>8.2f} {r['floor_s']:>8.2f} {r['overhead_s']:>11.2f} "
              f"{r['overhead_ms_per_order']:>9.2f}")
    print(f"net+plan {net['intents']} intents -> {net['net_orders']} orders: "
          f"median {net['median_ms']:.1f} ms (target <= {net['target_ms']:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
