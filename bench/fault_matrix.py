"""The fault matrix: every rebalance phase x every fault -> ok / defect / n/a.

    python -m bench.fault_matrix [--workers N] [--cells PHASE:FAULT ...]

Each cell runs one rebalance of tests/e2e/targets_small.yaml with the fault
injected at the phase, reruns the same id, and checks the broker's own record
(the simulated broker's state file) and the ledger: no intent executed beyond
its quantity, every intent complete, nothing left working, every broker exec
id exactly once in the ledger, the ledger's orders settled, sleeve books equal
to the broker's positions, the failure alerted (apprise json:// to a local
capture server). The harness is tests/reliability/fault_runner.py; the same
cells are asserted by tests/reliability/test_fault_matrix.py.

Prints the matrix as a table (with the invariant that failed, per defect) and
writes it as JSON to var/bench/fault_matrix.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability.fault_runner import FAULTS, PHASES, run_matrix  # noqa: E402

__all__ = ["main", "table"]


def table(results: list[dict[str, Any]]) -> str:
    """phase rows x fault columns; defects listed below with what failed."""
    cell = {(r["phase"], r["fault"]): r for r in results}
    width = max(len(p) for p in PHASES)
    head = f"{'phase':<{width}}  " + "  ".join(f"{f:<17}" for f in FAULTS)
    lines = [head, "-" * len(head)]
    for p in PHASES:
        row = []
        for f in FAULTS:
            r = cell.get((p, f))
            if r is None:
                row.append(f"{'-':<17}")
                continue
            text = r["outcome"]
            if text == "defect":
                text += "(" + ",".join(sorted(r.get("failed", {}))) [:9] + ")"
            row.append(f"{text:<17}")
        lines.append(f"{p:<{width}}  " + "  ".join(row))
    lines.append("")
    for r in results:
        if r["outcome"] == "defect":
            lines.append(f"DEFECT {r['phase']} x {r['fault']} (fault run: {r.get('fault_run')}; "
                         f"rerun: {r.get('rerun')})")
            for name, why in sorted(r.get("failed", {}).items()):
                lines.append(f"    {name}: {why[:400]}")
    counts = {k: sum(1 for r in results if r["outcome"] == k) for k in ("ok", "defect", "n/a")}
    lines.append(f"cells: {len(results)}  " + "  ".join(f"{k}: {v}" for k, v in counts.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="batch processes in parallel")
    ap.add_argument("--cells", nargs="*", help="PHASE:FAULT cells (default: all)")
    ap.add_argument("--out", default=str(ROOT / "var" / "bench" / "fault_matrix.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    cells = [tuple(c.split(":", 1)) for c in args.cells] if args.cells else None
    started = datetime.now(UTC)
    results = run_matrix(args.workers, cells)  # type: ignore[arg-type]
    finished = datetime.now(UTC)
    print(table(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "started": started.isoformat(), "finished": finished.isoformat(),
        "wall_seconds": round((finished - started).total_seconds(), 1),
        "workers": args.workers, "phases": PHASES, "faults": FAULTS, "cells": results,
    }, indent=1))
    print(f"written {out} ({(finished - started).total_seconds():.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
