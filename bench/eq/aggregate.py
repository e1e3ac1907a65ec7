"""Per-bucket aggregation of cell results (the numbers the tables print).

Efficiency ``E = (IS_P0 - IS_P) / (IS_P0 - floor)`` on bucket means, with
``floor = max(half spread, (2/3) x square-root impact)``: the tightest of the
two model lower bounds of an execution that must complete (a market-taking
order cannot pay less than half the spread, nor a metaorder less than its
permanent impact). The zero-latency P2 run is printed as a third reference
but not used in E (it is a run of the policy, not a bound). E is None when
``IS_P0 - floor`` is below 0.1 bps (no room to improve: E would be noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.eq.grid import BUCKETS
from bench.eq.runner import CellResult
from bench.eq.stats import PairedCI, Summary, paired_bootstrap, summarize

__all__ = ["BucketFloors", "PolicyBucketStats", "aggregate", "bucket_floors", "efficiency", "MIN_ROOM_BPS"]

MIN_ROOM_BPS = 0.1


@dataclass(frozen=True, slots=True)
class PolicyBucketStats:
    """One policy in one bucket over every matched cell (bps unless named)."""

    bucket: str
    policy: str
    is_bps: Summary
    diff_vs_p0: PairedCI
    spread_bps: float
    impact_bps: float
    delay_bps: float
    opportunity_bps: float
    fees_bps: float
    fill_rate: float
    completion_p50_s: float
    completion_p95_s: float
    incomplete: int
    incomplete_collar: int
    messages_per_order: float
    efficiency: float | None


@dataclass(frozen=True, slots=True)
class BucketFloors:
    """Floors of one bucket (means over its cells, bps)."""

    bucket: str
    half_spread: float
    analytic_sqrt: float
    p2_zero_latency: float
    best: float  # max(half_spread, analytic_sqrt): the floor used in E


def efficiency(is_p0: float, is_p: float, floor: float) -> float | None:
    """E = (IS_P0 - IS_P) / (IS_P0 - floor); None when IS_P0 - floor < MIN_ROOM_BPS."""
    room = is_p0 - floor
    if not math.isfinite(room) or room < MIN_ROOM_BPS:
        return None
    return (is_p0 - is_p) / room


def _mean(xs: Sequence[float]) -> float:
    return float(np.mean(xs)) if len(xs) else math.nan


def bucket_floors(results: Sequence[CellResult], bucket: str) -> BucketFloors:
    rs = [r for r in results if r.cell.bucket.name == bucket]
    hs = _mean([r.half_spread_bps for r in rs])
    an = _mean([r.analytic_floor_bps for r in rs])
    zl = _mean([r.outcomes["P2zl"].is_bps for r in rs if "P2zl" in r.outcomes])
    return BucketFloors(bucket, hs, an, zl, max(hs, an))


def aggregate(
    results: Sequence[CellResult], policies: Sequence[str], *, seed: int = 0
) -> tuple[list[PolicyBucketStats], list[BucketFloors]]:
    """Stats per (bucket, policy) in grid bucket order, and the floors per bucket."""
    stats: list[PolicyBucketStats] = []
    floors: list[BucketFloors] = []
    names = [b.name for b in BUCKETS if any(r.cell.bucket.name == b.name for r in results)]
    for bucket in names:
        rs = [r for r in results if r.cell.bucket.name == bucket and "P0" in r.outcomes]
        fl = bucket_floors(rs, bucket)
        floors.append(fl)
        p0 = [r.outcomes["P0"].is_bps for r in rs]
        for pol in policies:
            pairs = [(r.outcomes[pol], r.outcomes["P0"].is_bps) for r in rs if pol in r.outcomes]
            if not pairs:
                continue
            outs = [o for o, _ in pairs]
            xs = [o.is_bps for o in outs]
            ci = paired_bootstrap(xs, [b for _, b in pairs], seed=seed)
            comp = [o.completion_s for o in outs]
            orders = sum(1 for _ in outs)
            stats.append(PolicyBucketStats(
                bucket=bucket, policy=pol, is_bps=summarize(xs), diff_vs_p0=ci,
                spread_bps=_mean([o.spread_bps for o in outs]), impact_bps=_mean([o.impact_bps for o in outs]),
                delay_bps=_mean([o.delay_bps for o in outs]), opportunity_bps=_mean([o.opportunity_bps for o in outs]),
                fees_bps=_mean([o.fees_bps for o in outs]), fill_rate=_mean([o.fill_rate for o in outs]),
                completion_p50_s=float(np.percentile(comp, 50)), completion_p95_s=float(np.percentile(comp, 95)),
                incomplete=sum(1 for o in outs if not o.complete),
                incomplete_collar=sum(1 for o in outs if o.incomplete_collar),
                messages_per_order=sum(o.messages for o in outs) / orders,
                efficiency=efficiency(_mean(p0), _mean(xs), fl.best),
            ))  # fmt: skip
    return stats, floors
