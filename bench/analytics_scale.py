"""History aggregation at scale: 250 days x 1,000 orders (one fill each)
through lib.history.rolling, every dimension and default window.

    .venv/bin/python bench/analytics_scale.py [--days 250] [--per-day 1000] [--json out.json]

Prints a table (rows, groups, seconds per stage) and writes JSON. Target:
aggregation under 1 s on the project's 2-core machine. Synthetic rows
(seeded numpy), built as the columns lib.history aggregates; loading them from
the ledger (lib.history.load_history, one TCA rebuild per rebalance) is not
timed here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from lib.history import DIMENSIONS, HistoryFrame, NettingRow, rolling  # noqa: E402

SYMBOLS = [("SPY", "ETF"), ("TLT", "ETF"), ("QQQ", "ETF"), ("IWM", "ETF"), ("ES", "FUT"),
           ("NQ", "FUT"), ("FESX", "FUT"), ("6E", "FX_FUT"), ("AAPL", "STK"), ("DIS", "STK")]
MODES = ["marketable_limit", "auction_close", "passive_first", "vwap"]
SLEEVES = ["trend", "carry", "relval", "netted"]
TARGET_SECONDS = 1.0


def synth(days: int, per_day: int, seed: int = 7) -> tuple[HistoryFrame, list[NettingRow]]:
    """Seeded synthetic history, built as columns (what load_history's rows become)."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    end = date(2026, 11, 27)
    first = (end - timedelta(days=days - 1)).toordinal()
    ordinal = np.repeat(np.arange(first, first + days, dtype=np.int64), per_day)
    idx = np.arange(n)
    classes = tuple(sorted({c for _, c in SYMBOLS}))
    cls_code = np.array([classes.index(c) for _, c in SYMBOLS])[idx % len(SYMBOLS)]
    delay, spread = rng.normal(0, 2, n), rng.uniform(0, 3, n)
    impact, opp, fees = rng.normal(1, 2, n), rng.normal(0, 1, n), rng.uniform(0, 0.5, n)
    filled = rng.random(n) > 0.03
    frame = HistoryFrame(
        ordinal=ordinal,
        keys={"all": (("all",), np.zeros(n, dtype=np.int64)),
              "instrument": (tuple(s for s, _ in SYMBOLS), idx % len(SYMBOLS)),
              "asset_class": (classes, cls_code),
              "mode": (tuple(MODES), idx % len(MODES)), "sleeve": (tuple(SLEEVES), idx % len(SLEEVES))},
        currency=(("USD",), np.zeros(n, dtype=np.int64)),
        slippage=np.where(filled, spread + impact, np.nan),
        parts={"shortfall": delay + spread + impact + opp + fees, "delay": delay, "spread": spread,
               "impact": impact, "opportunity": opp, "fees": fees},
        notional=rng.uniform(1e4, 1e6, n), fill=filled.astype(float),
        replaces=rng.integers(0, 7, n), commission=rng.uniform(0, 20, n),
    )
    nets = [NettingRow(date.fromordinal(first + d), s, c, int(rng.integers(0, 500)))
            for d in range(days) for s, c in SYMBOLS]
    return frame, nets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=250, help="days of history (default 250)")
    ap.add_argument("--per-day", type=int, default=1000, help="orders per day (default 1000)")
    ap.add_argument("--json", default="var/bench/analytics_scale.json", help="JSON output path")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows, nets = synth(args.days, args.per_day)
    t1 = time.perf_counter()
    stats = rolling(rows, nets, until=date.fromordinal(int(rows.ordinal[-1])))
    t2 = time.perf_counter()
    agg = t2 - t1
    groups = {(s.dimension, s.key) for s in stats}
    out = {"days": args.days, "per_day": args.per_day, "rows": len(rows.ordinal), "netting_rows": len(nets),
           "dimensions": list(DIMENSIONS), "groups": len(groups), "window_stats": len(stats),
           "synth_seconds": round(t1 - t0, 3), "aggregate_seconds": round(agg, 3),
           "target_seconds": TARGET_SECONDS, "met": agg < TARGET_SECONDS}
    print(f"{'rows':>10} {'groups':>7} {'stats':>7} {'synth s':>8} {'aggregate s':>12} {'target':>7}")
    print(f"{len(rows.ordinal):>10,} {len(groups):>7} {len(stats):>7} {t1 - t0:>8.3f} {agg:>12.3f} "
          f"{'<1 s ' + ('ok' if agg < TARGET_SECONDS else 'MISSED'):>7}")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
