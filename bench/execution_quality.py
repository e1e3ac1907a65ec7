"""Execution-quality benchmark: this layer (P2) against independent peers on the calibrated simulator.

    python bench/execution_quality.py --quick        # < 60 s on 2 cores
    python bench/execution_quality.py --seeds 4      # the full grid
    flags: --seeds N  --seed BASE  --out DIR  --json-only  --workers K  --no-sensitivity

1. Runs the simulator's calibration gates (lib.sim.calibration.run_all_gates)
   on the base seed; any failure -> exit 2, nothing reported.
2. Runs every cell of the grid (bench/eq/grid.py) under every policy
   (bench/eq/policies.py, bench/eq/peers.py) on identical forks of the same
   seeded market, each stopped at the cell's common horizon and completed by
   a charged market sweep (bench/eq/runner.py).
3. Prints the per-bucket table (completion-adjusted IS, P2 vs the best peer),
   floors, sensitivity of P2 to alternative defaults, pairs and netting
   tables, and PASS/FAIL/GAP per target; writes
   var/bench/execution_quality_<stamp>.json (top-level ``summary`` list) and .png.
See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.eq.aggregate import aggregate, summary_rows  # noqa: E402
from bench.eq.grid import (  # noqa: E402
    FULL_INSTRUMENTS,
    QUICK_ARRIVAL_WINDOW_S,
    QUICK_INSTRUMENTS,
    Cell,
    build_grid,
)
from bench.eq.policies import DEFAULT_VARIANTS, MAIN_POLICIES, PolicySpec, policy_specs  # noqa: E402
from bench.eq.report import (  # noqa: E402
    format_floors,
    format_netting,
    format_pairs,
    format_sensitivity,
    format_table,
    format_targets,
    format_tensions,
    write_json,
    write_png,
)
from bench.eq.runner import CellResult, run_cell  # noqa: E402
from bench.eq.scenarios import pair_executor_available, run_netting, run_pair  # noqa: E402
from bench.eq.targets import evaluate_targets  # noqa: E402
from lib.config import ExecutionConfig, load_settings  # noqa: E402
from lib.instruments import InstrumentRegistry, load_instruments  # noqa: E402
from lib.sim.calibration import run_all_gates  # noqa: E402

_W: dict[str, object] = {}


def _init_worker(specs: list[PolicySpec]) -> None:
    _W["registry"] = load_instruments()
    _W["specs"] = specs


def _work(cell: Cell) -> CellResult:
    reg = _W["registry"]
    specs = _W["specs"]
    assert isinstance(reg, InstrumentRegistry) and isinstance(specs, list)
    if cell.seed_index > 0:  # sensitivity variants run on the first seed of each cell only (run time)
        specs = [s for s in specs if s.variant_of is None]
    return run_cell(cell, specs, reg)


def run_grid(cells: list[Cell], specs: list[PolicySpec], workers: int) -> list[CellResult]:
    """Every cell; results in cell order whatever the worker count."""
    if workers <= 1:
        _init_worker(specs)
        return [_work(c) for c in cells]
    # longest cells first so the pool does not end on one straggler
    order = sorted(range(len(cells)), key=lambda i: -(cells[i].bucket.value if cells[i].bucket.kind == "adv" else 0.0))
    with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_init_worker, initargs=(specs,)) as ex:
        done = list(ex.map(_work, [cells[i] for i in order], chunksize=1))
    out: list[CellResult | None] = [None] * len(cells)
    for i, r in zip(order, done, strict=True):
        out[i] = r
    return [r for r in out if r is not None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small grid (SPY, ES, FESX; normal regime; 2 seeds, side alternating by seed)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 2 quick, 3 full)")
    ap.add_argument("--seed", type=int, default=0, help="base seed (gates run on it)")
    ap.add_argument("--out", type=Path, default=Path("var/bench"), help="output directory")
    ap.add_argument("--json-only", action="store_true", help="write JSON only (no tables, no PNG)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--no-sensitivity", action="store_true", help="skip the P2 alternative-default runs")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                    help="P2 variants to run on each cell's first seed (comma-separated; P2s:seed, P2s:fixed, P2s:k3)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    say = (lambda *_a: None) if args.json_only else print

    registry = load_instruments()
    base: ExecutionConfig = load_settings().execution

    gates = run_all_gates(args.seed, instruments=registry)
    failed = [g for g in gates if not g.passed]
    for g in gates:
        say(f"gate {g.name:26s} {'ok  ' if g.passed else 'FAIL'} measured {g.measured:.4g} in [{g.lower:g}, {g.upper:g}] {g.detail}")
    if failed:
        for g in failed:
            print(f"calibration gate FAILED: {g.name} measured {g.measured!r} outside [{g.lower}, {g.upper}] {g.detail}", file=sys.stderr)
        print("refusing to report execution quality on an uncalibrated simulator", file=sys.stderr)
        return 2
    t_gates = time.perf_counter() - t_start

    seeds = args.seeds or (2 if args.quick else 3)
    if args.quick:
        cells = build_grid(registry, symbols=QUICK_INSTRUMENTS, regimes=("normal",), seeds=seeds,
                           base_seed=args.seed, arrival_window_s=QUICK_ARRIVAL_WINDOW_S,
                           alternate_sides=True)  # fmt: skip
    else:
        cells = build_grid(registry, symbols=FULL_INSTRUMENTS, regimes=("normal", "stressed"), seeds=seeds, base_seed=args.seed)
    specs = policy_specs(base, sensitivity=not args.no_sensitivity,
                         variants=tuple(v for v in args.variants.split(",") if v))
    variants = [s.name for s in specs if s.variant_of]
    results = run_grid(cells, specs, args.workers)
    t_grid = time.perf_counter() - t_start - t_gates

    stats, floors = aggregate(results, MAIN_POLICIES, seed=args.seed)
    # sliced legs (children of 0.05 % ADV) so "unhedged <= one child order" is a real test
    pair_cfgs = [("P2", base), ("P2 sliced legs", base.model_copy(update={"adv_fraction_threshold": 0.0005}))]
    pairs = [run_pair(registry, cfg, config_name=name, jump_bps=j, seed=args.seed + 7)
             for name, cfg in pair_cfgs for j in (0.0, 30.0)]  # fmt: skip
    if pair_executor_available():
        for name, cfg in pair_cfgs:
            for j, hedge in ((0.0, None), (30.0, None), (0.0, "ES"), (30.0, "ES")):
                try:
                    pairs.append(run_pair(registry, cfg, config_name=name, jump_bps=j, seed=args.seed + 7,
                                          use_pair_executor=True, hedge_symbol=hedge))  # fmt: skip
                except Exception as exc:  # report, do not hide
                    say(f"PairExecutor run failed ({type(exc).__name__}: {exc}); pairs table shows plain legs only")
    netting = run_netting(registry, base, seed=args.seed + 11)
    targets = evaluate_targets(results, stats, pairs)
    elapsed = time.perf_counter() - t_start

    caps = {k.value: v for k, v in base.max_slippage_bps_by_asset_class.items()}
    say(f"\n== Execution quality: {len(cells)} cells ({'quick' if args.quick else 'full'}, {seeds} seeds/cell), "
        f"completion-adjusted IS vs arrival mid in bps (+ = cost), policies {', '.join(MAIN_POLICIES)} ==")  # fmt: skip
    say(format_table(stats))
    say("(ISadj: rest swept at the stop and charged; IScv: ISadj minus the no-impact drift at fill times, "
        "used for 'vs best peer' (P2 - best, paired bootstrap 95%); raw IS: rest marked at the end mid; "
        "compl%: quantity the policy filled itself within the common horizon)")
    say("\n== Floors (bucket means, bps) ==")
    say(format_floors(floors))
    if variants:
        say("\n== Known tensions ==")
        say(format_tensions(registry, base.max_participation_rate, base.order_ttl_seconds, caps))
        say("\n== Sensitivity: P2 with alternative defaults (paired vs P2 on the same cells) ==")
        say(format_sensitivity(results, variants, seed=args.seed))
    say("\n== Pairs (long SPY / short QQQ, P2 legs) ==")
    say(format_pairs(pairs))
    say("\n== Netting (synthetic multi-sleeve basket, lib/basket) ==")
    say(format_netting(netting))
    say("\n== Targets ==")
    say(format_targets(targets))

    stamp = datetime.now(UTC)
    name = f"execution_quality_{stamp:%Y%m%dT%H%M%SZ}"
    payload = {
        "summary": summary_rows(stats),
        "timestamp": stamp.isoformat(), "mode": "quick" if args.quick else "full", "seeds": seeds,
        "base_seed": args.seed, "workers": args.workers, "policies": [s.name for s in specs],
        "config": base.model_dump(mode="json"), "gates": gates, "stats": stats, "floors": floors,
        "targets": targets, "pairs": pairs, "netting": netting,
        "timing_s": {"gates": t_gates, "grid": t_grid, "total": elapsed},
        "cells": [{"cell": r.cell, "arrival_mid": r.arrival_mid, "half_spread_bps": r.half_spread_bps,
                   "floor_bps": r.floor_bps, "horizon_s": r.horizon_s, "outcomes": r.outcomes} for r in results],
    }  # fmt: skip
    write_json(args.out / f"{name}.json", payload)
    if not args.json_only:
        write_png(args.out / f"{name}.png", stats, floors, MAIN_POLICIES)
    say(f"\nwrote {args.out / name}.json" + ("" if args.json_only else " and .png") + f"; {elapsed:.1f} s (gates {t_gates:.1f} s, grid {t_grid:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
