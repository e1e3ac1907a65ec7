"""Per-bucket aggregation of cell results (the numbers the tables print).

Primary score: ``is_adj_bps`` (completion-adjusted IS: the rest swept at the
policy's stop and charged). Its variance-reduced version ``is_cv_bps`` (the
no-impact drift at fill times subtracted, coefficient 1) is what the paired
intervals and the choice of the best peer use. The best peer of a bucket is
the peer (P0, P1 and the independent peers) with the lowest mean ``is_cv_bps``
there; picking the minimum of several noisy means favours the peer (winner's
curse), so the comparison is conservative for P2.

Efficiency ``E = (best - P2) / (best - floor)`` on bucket means of
``is_cv_bps`` with the per-cell floor; None when ``best - floor`` is below
0.1 bps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.eq.grid import BUCKETS
from bench.eq.policies import PEER_NAMES
from bench.eq.runner import CellResult
from bench.eq.stats import PairedCI, Summary, paired_bootstrap, summarize

__all__ = ["BucketFloors", "MIN_ROOM_BPS", "PolicyBucketStats", "aggregate", "best_peer", "efficiency", "summary_rows"]

MIN_ROOM_BPS = 0.1


@dataclass(frozen=True, slots=True)
class PolicyBucketStats:
    """One policy in one bucket over every matched cell (bps unless named)."""

    bucket: str
    policy: str
    is_adj: Summary  # completion-adjusted IS
    is_cv_mean: float  # its control-variate version
    is_raw_mean: float  # raw IS (rest marked at the end mid), secondary
    sweep_bps: float  # mean cost of the completion sweep
    completion_pct: float  # mean share of the quantity the policy filled itself within the horizon, %
    orders_complete_pct: float  # share of orders the policy completed itself, %
    spread_bps: float
    impact_bps: float
    delay_bps: float
    fees_bps: float
    completion_p50_s: float
    completion_p95_s: float
    incomplete: int
    incomplete_collar: int
    messages_per_order: float
    floor_mean: float
    best_peer: str | None = None  # for non-peers: the bucket's best peer ...
    vs_best_peer: PairedCI | None = None  # ... and the paired difference of is_cv (policy - best)
    vs_floor: PairedCI | None = None  # paired is_cv - 1.3 x floor
    efficiency: float | None = None


@dataclass(frozen=True, slots=True)
class BucketFloors:
    """Floors of one bucket (means over its cells, bps)."""

    bucket: str
    half_spread: float
    impact_part: float  # (2/3) x the simulator's impact function
    floor: float  # per-cell half spread + impact part, averaged


def efficiency(best: float, is_p: float, floor: float) -> float | None:
    """E = (best - IS_P) / (best - floor); None when best - floor < MIN_ROOM_BPS."""
    room = best - floor
    if not math.isfinite(room) or room < MIN_ROOM_BPS:
        return None
    return (best - is_p) / room


def _mean(xs: Sequence[float]) -> float:
    return float(np.mean(xs)) if len(xs) else math.nan


def best_peer(results: Sequence[CellResult], peers: Sequence[str] = PEER_NAMES) -> str | None:
    """The peer with the lowest mean is_cv_bps over ``results`` (all present in every cell)."""
    means = {
        p: _mean([r.outcomes[p].is_cv_bps for r in results])
        for p in peers
        if results and all(p in r.outcomes for r in results)
    }
    return min(means, key=lambda p: means[p]) if means else None


def aggregate(
    results: Sequence[CellResult], policies: Sequence[str], *, seed: int = 0
) -> tuple[list[PolicyBucketStats], list[BucketFloors]]:
    """Stats per (bucket, policy) in grid bucket order, and the floors per bucket."""
    stats: list[PolicyBucketStats] = []
    floors: list[BucketFloors] = []
    names = [b.name for b in BUCKETS if any(r.cell.bucket.name == b.name for r in results)]
    for bucket in names:
        rs = [r for r in results if r.cell.bucket.name == bucket]
        fl = [r.floor_bps for r in rs]
        floors.append(BucketFloors(bucket, _mean([r.half_spread_bps for r in rs]),
                                   _mean([r.analytic_floor_bps for r in rs]), _mean(fl)))  # fmt: skip
        best = best_peer(rs)
        for pol in policies:
            sub = [r for r in rs if pol in r.outcomes]
            if not sub:
                continue
            outs = [r.outcomes[pol] for r in sub]
            cv = [o.is_cv_bps for o in outs]
            comp = [o.completion_s for o in outs]
            vs_best = vs_floor = None
            eff = None
            bp = None
            if pol not in PEER_NAMES and best is not None:
                bp = best
                vs_best = paired_bootstrap(cv, [r.outcomes[best].is_cv_bps for r in sub], seed=seed)
                vs_floor = paired_bootstrap(cv, [1.3 * r.floor_bps for r in sub], seed=seed)
                eff = efficiency(_mean([r.outcomes[best].is_cv_bps for r in sub]), _mean(cv), _mean([r.floor_bps for r in sub]))
            stats.append(PolicyBucketStats(
                bucket=bucket, policy=pol, is_adj=summarize([o.is_adj_bps for o in outs]), is_cv_mean=_mean(cv),
                is_raw_mean=_mean([o.is_bps for o in outs]), sweep_bps=_mean([o.sweep_bps for o in outs]),
                completion_pct=100 * _mean([o.fill_rate for o in outs]),
                orders_complete_pct=100 * _mean([1.0 if o.complete else 0.0 for o in outs]),
                spread_bps=_mean([o.spread_bps for o in outs]), impact_bps=_mean([o.impact_bps for o in outs]),
                delay_bps=_mean([o.delay_bps for o in outs]), fees_bps=_mean([o.fees_bps for o in outs]),
                completion_p50_s=float(np.percentile(comp, 50)), completion_p95_s=float(np.percentile(comp, 95)),
                incomplete=sum(1 for o in outs if not o.complete),
                incomplete_collar=sum(1 for o in outs if o.incomplete_collar),
                messages_per_order=_mean([float(o.messages) for o in outs]),
                floor_mean=_mean([r.floor_bps for r in sub]), best_peer=bp, vs_best_peer=vs_best,
                vs_floor=vs_floor, efficiency=eff,
            ))  # fmt: skip
    return stats, floors


def summary_rows(stats: Sequence[PolicyBucketStats]) -> list[dict[str, object]]:
    """The JSON ``summary`` list: one row per bucket and policy."""
    rows: list[dict[str, object]] = []
    for s in stats:
        row: dict[str, object] = {
            "bucket": s.bucket, "policy": s.policy, "n": s.is_adj.n,
            "completion_pct": round(s.completion_pct, 3), "orders_complete_pct": round(s.orders_complete_pct, 3),
            "is_adjusted_bps": round(s.is_adj.mean, 4), "is_adjusted_median_bps": round(s.is_adj.median, 4),
            "is_adjusted_p95_bps": round(s.is_adj.p95, 4), "is_cv_bps": round(s.is_cv_mean, 4),
            "is_raw_bps": round(s.is_raw_mean, 4), "sweep_bps": round(s.sweep_bps, 4),
            "floor_bps": round(s.floor_mean, 4), "messages_per_order": round(s.messages_per_order, 2),
            "completion_p50_s": s.completion_p50_s, "completion_p95_s": s.completion_p95_s,
        }  # fmt: skip
        if s.vs_best_peer is not None:
            row["best_peer"] = s.best_peer
            row["vs_best_peer_mean"] = round(s.vs_best_peer.mean, 4)
            row["vs_best_peer_ci"] = [round(s.vs_best_peer.low, 4), round(s.vs_best_peer.high, 4)]
            row["efficiency"] = s.efficiency
        rows.append(row)
    return rows
