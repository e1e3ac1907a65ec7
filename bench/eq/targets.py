"""The benchmark's targets (issue 10), evaluated honestly: PASS, FAIL or GAP.

All on completion-adjusted IS (the rest swept at the stop and charged) with
the no-impact control variate; intervals are paired bootstrap 95 %. "No
worse than the best peer" needs the interval's upper bound <= 0 in every
bucket; "strictly better" needs it < 0. PASS/FAIL for the floor target is on
the mean, FAIL when the interval lies entirely above 1.3 x floor, GAP when it
straddles.

Fidelity probe: a single passive fill larger than FIDELITY_MAX_FILL_TOB x the
top-of-book size is not something a 1-second market absorbs. Since the sweep
cap (lib/sim/matching.py: an exogenous sweep fills a resting order for at
most what it printed at or through that price) such fills need a very large
exogenous order printing through our level; the probe reports them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.eq.aggregate import PolicyBucketStats
from bench.eq.runner import CellResult
from bench.eq.scenarios import PairOutcome

__all__ = ["FIDELITY_MAX_FILL_TOB", "TargetResult", "evaluate_targets", "fidelity_probe"]

FIDELITY_MAX_FILL_TOB = 5.0
_LARGE_BUCKETS = ("0.25%ADV", "1.2%ADV", "3%ADV")


@dataclass(frozen=True, slots=True)
class TargetResult:
    name: str
    status: str  # PASS | FAIL | GAP
    detail: str


def _verdict_from_diff(d_mean: float, low: float, high: float) -> str:
    """d = measured - threshold (<= 0 wanted)."""
    if not math.isfinite(d_mean):
        return "GAP"
    if d_mean <= 0:
        return "PASS"
    return "FAIL" if low > 0 else "GAP"


def fidelity_probe(results: Sequence[CellResult]) -> tuple[bool, str]:
    """(ok, detail): no single passive fill above FIDELITY_MAX_FILL_TOB x TOB."""
    worst = 0.0
    where = ""
    hits = 0
    for r in results:
        for o in r.outcomes.values():
            if o.max_passive_fill_tob > FIDELITY_MAX_FILL_TOB:
                hits += 1
            if o.max_passive_fill_tob > worst:
                worst, where = o.max_passive_fill_tob, f"{r.cell.key} {o.policy}"
    ok = hits == 0
    detail = f"{hits} runs with a single passive fill > {FIDELITY_MAX_FILL_TOB:g}x TOB; largest {worst:.1f}x TOB ({where})"
    return ok, detail


def evaluate_targets(
    results: Sequence[CellResult],
    stats: Sequence[PolicyBucketStats],
    pairs: Sequence[PairOutcome],
    *,
    policy: str = "P2",
) -> list[TargetResult]:
    """The issue-10 targets for ``policy`` (P2), on completion-adjusted IS."""
    out: list[TargetResult] = []
    fid_ok, fid_detail = fidelity_probe(results)
    out.append(TargetResult("sim fidelity: no passive fill > 5x TOB in one go", "PASS" if fid_ok else "FAIL", fid_detail))
    rows = [s for s in stats if s.policy == policy]

    # 1. completion >= 99 % of quantity in every bucket, within the horizon, by the policy itself
    bad = [f"{s.bucket} {s.completion_pct:.1f}%" for s in rows if s.completion_pct < 99.0]
    det = "; ".join(f"{s.bucket} {s.completion_pct:.1f}%" for s in rows)
    out.append(TargetResult(f"{policy} completes >= 99% of quantity in every bucket", "FAIL" if bad else "PASS", det))

    # 2. no worse than the best peer in every bucket (upper bound <= 0), strictly better in >= 3
    parts, worse, better = [], [], []
    for s in rows:
        ci = s.vs_best_peer
        if ci is None:
            continue
        parts.append(f"{s.bucket} vs {s.best_peer}: {ci.mean:+.2f} [{ci.low:+.2f},{ci.high:+.2f}]")
        if ci.high > 0:
            worse.append(s.bucket)
        if ci.high < 0:
            better.append(s.bucket)
    st = "PASS" if rows and not worse else "FAIL"
    out.append(TargetResult(f"{policy} no worse than the best peer in every bucket (upper 95% <= 0)", st,
                            f"not established in: {', '.join(worse) or 'none'}; " + "; ".join(parts)))  # fmt: skip
    out.append(TargetResult(f"{policy} strictly better than the best peer in >= 3 buckets", "PASS" if len(better) >= 3 else "FAIL",
                            f"{len(better)} buckets: {', '.join(better) or 'none'}"))  # fmt: skip

    # 3. <= 1.3 x the per-cell floor at and above 0.25 % ADV
    parts = []
    status = "PASS"
    big = [s for s in rows if s.bucket in _LARGE_BUCKETS and s.vs_floor is not None]
    for s in big:
        ci = s.vs_floor
        assert ci is not None
        v = _verdict_from_diff(ci.mean, ci.low, ci.high)
        parts.append(f"{s.bucket}: {s.is_cv_mean:.2f} vs 1.3 x {s.floor_mean:.2f} = {1.3 * s.floor_mean:.2f} {v}")
        status = _worse(status, v)
    out.append(TargetResult(f"{policy} <= 1.3 x per-cell floor at >= 0.25% ADV", status if big else "GAP", "; ".join(parts)))

    # 4. zero limits outside the hard band
    checked = sum(o.limits_checked for r in results for o in r.outcomes.values())
    viol = sum(o.collar_violations for r in results for o in r.outcomes.values())
    pviol = sum(p.collar_violations for p in pairs)
    out.append(TargetResult("zero limits outside the plan's hard band", "PASS" if viol + pviol == 0 and checked > 0 else "FAIL",
                            f"{viol + pviol} violations in {checked} limits sent (+ pair runs)"))  # fmt: skip

    errs = [(r.cell.key, o.policy, o.reprice_errors) for r in results for o in r.outcomes.values() if o.reprice_errors]
    n_err = sum(e[2] for e in errs)
    ex = f"; e.g. {errs[0][0]} {errs[0][1]}" if errs else ""
    out.append(TargetResult("production repricer never raises (policy.reprice on child ladders)", "FAIL" if errs else "PASS",
                            f"{n_err} replace attempts beyond a child's trimmed ladder in {len(errs)} runs{ex}"))  # fmt: skip

    # 5. max unhedged pair notional <= one child order, on the layer's pair execution
    #    (PairExecutor); plain concurrent legs are a baseline without legging control
    layer = [p for p in pairs if p.protected]
    if layer:
        # slack: the legs are marked at the live mid, the child at its arrival mid (0.5 % of a child)
        bad_p = [p for p in layer if p.max_unhedged > 1.005 * p.max_child_notional]
        det = "; ".join(f"{p.config_name}/{p.scenario}/{p.executor.split('(')[-1].rstrip(')')}: max "
                        f"{p.max_unhedged / 1e6:.2f}M vs child {p.max_child_notional / 1e6:.2f}M" for p in layer)  # fmt: skip
        out.append(TargetResult("max unhedged pair notional <= one child order", "FAIL" if bad_p else "PASS", det))
    else:
        out.append(TargetResult("max unhedged pair notional <= one child order", "GAP", "no pair runs"))
    return out


def _worse(a: str, b: str) -> str:
    rank = {"PASS": 0, "GAP": 1, "FAIL": 2}
    return a if rank[a] >= rank[b] else b

