"""Output of the benchmark: aligned text tables, the JSON record, the PNG chart."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.eq.aggregate import BucketFloors, PolicyBucketStats
from bench.eq.runner import CellResult
from bench.eq.scenarios import NettingOutcome, PairOutcome
from bench.eq.stats import paired_bootstrap
from bench.eq.targets import TargetResult
from lib.instruments import InstrumentRegistry

__all__ = [
    "format_floors",
    "format_netting",
    "format_pairs",
    "format_sensitivity",
    "format_table",
    "format_targets",
    "format_tensions",
    "to_jsonable",
    "write_json",
    "write_png",
]


def _f(x: float | None, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{nd}f}"


def _align(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))  # noqa: E731
    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def format_table(stats: Sequence[PolicyBucketStats]) -> str:
    """The main per-bucket table (completion-adjusted IS vs arrival mid, bps, + = cost)."""
    header = ["bucket", "pol", "n", "ISadj mean", "med", "p95", "IScv", "raw IS", "sweep", "floor", "compl%",
              "orders%", "vs best peer [95% CI]", "t50 s", "t95 s", "incompl(collar)", "msg/ord", "E"]  # fmt: skip
    rows = []
    prev = None
    for s in stats:
        b = s.bucket if s.bucket != prev else ""
        prev = s.bucket
        ci = s.vs_best_peer
        d = "-" if ci is None else f"{ci.mean:+.2f} [{ci.low:+.2f},{ci.high:+.2f}] vs {s.best_peer}"
        rows.append([
            b, s.policy, str(s.is_adj.n), _f(s.is_adj.mean), _f(s.is_adj.median), _f(s.is_adj.p95), _f(s.is_cv_mean),
            _f(s.is_raw_mean), _f(s.sweep_bps), _f(s.floor_mean), _f(s.completion_pct, 1), _f(s.orders_complete_pct, 1), d,
            _f(s.completion_p50_s, 0), _f(s.completion_p95_s, 0), f"{s.incomplete}({s.incomplete_collar})",
            _f(s.messages_per_order, 1), _f(s.efficiency),
        ])  # fmt: skip
    return _align(header, rows)


def format_floors(floors: Sequence[BucketFloors]) -> str:
    header = ["bucket", "half spread", "(2/3) sim impact", "floor (per cell, mean)"]
    rows = [[f.bucket, _f(f.half_spread), _f(f.impact_part), _f(f.floor)] for f in floors]
    return _align(header, rows)


def format_sensitivity(results: Sequence[CellResult], variants: Sequence[str], *, seed: int = 0) -> str:
    """P2 against its alternative-default variants, per bucket (is_cv paired), all cells and futures only."""
    header = ["scope", "bucket", "policy", "n", "ISadj mean", "d IScv vs P2 [95% CI]", "compl%", "incompl(collar)", "msg/ord"]
    rows = []
    buckets = list(dict.fromkeys(r.cell.bucket.name for r in results))
    for scope, pick in (("all", lambda r: True), ("FUT", lambda r: r.cell.symbol in ("ES", "MES", "FESX"))):
        for b in buckets:
            rs = [r for r in results if r.cell.bucket.name == b and pick(r) and "P2" in r.outcomes]
            if not rs:
                continue
            for pol in ("P2", *variants):
                pr = [r for r in rs if pol in r.outcomes]  # variants: first seed of each cell only
                if not pr:
                    continue
                outs = [r.outcomes[pol] for r in pr]
                ci = paired_bootstrap([o.is_cv_bps for o in outs], [r.outcomes["P2"].is_cv_bps for r in pr], seed=seed)
                d = "-" if pol == "P2" else f"{ci.mean:+.2f} [{ci.low:+.2f},{ci.high:+.2f}]"
                rows.append([
                    scope, b, pol, str(len(outs)), _f(float(np.mean([o.is_adj_bps for o in outs]))), d,
                    _f(100 * float(np.mean([o.fill_rate for o in outs])), 1),
                    f"{sum(not o.complete for o in outs)}({sum(o.incomplete_collar for o in outs)})",
                    _f(float(np.mean([o.messages for o in outs])), 1),
                ])  # fmt: skip
    return _align(header, rows)


def format_tensions(registry: InstrumentRegistry, participation: float, ttl_s: float, caps: dict[str, float]) -> str:
    """The arithmetic behind the known tensions (SIM_SPEC)."""
    lines = []
    for sym in ("SPY", "FESX"):
        inst = registry[sym]
        absorb = participation * ttl_s / inst.session_seconds
        need = 0.01 / (ttl_s / inst.session_seconds)
        lines.append(f"- {sym}: {participation:.0%} participation x {ttl_s:g} s TTL absorbs {absorb:.3%} of ADV; "
                     f"an unsliced 1%-of-ADV order needs {need:.0%} participation to finish inside the TTL")  # fmt: skip
    for sym in ("ES", "FESX"):
        inst = registry[sym]
        cap = caps[inst.asset_class.value]
        sig = inst.profile.daily_vol * 1e4 * math.sqrt(ttl_s / inst.session_seconds)
        p_out = 0.5 * math.erfc(cap / sig / math.sqrt(2.0))  # one-sided: the drift against us
        tick_bps = inst.tick_size / inst.profile.price * 1e4
        lines.append(f"- {sym}: collar {cap:g} bps = {cap / sig:.2f} sigma over {ttl_s:g} s (sigma {sig:.1f} bps); "
                     f"P(120 s drift against us > collar) = {p_out:.0%}; one tick = {tick_bps:.2f} bps")  # fmt: skip
    return "\n".join(lines)


def format_pairs(pairs: Sequence[PairOutcome]) -> str:
    header = ["config", "scenario", "leg USD", "max unhedged USD", "integral USD*s", "max child USD", "dur s", "fill% legs", "executor"]
    rows = [[p.config_name, p.scenario, f"{p.leg_notional / 1e6:.1f}M", f"{p.max_unhedged / 1e6:.2f}M",
             f"{p.unhedged_integral / 1e6:.1f}M", f"{p.max_child_notional / 1e6:.2f}M", _f(p.duration_s, 0),
             f"{100 * p.fill_rates[0]:.0f}/{100 * p.fill_rates[1]:.0f}", p.executor] for p in pairs]  # fmt: skip
    return _align(header, rows)


def format_netting(n: NettingOutcome) -> str:
    header = ["sleeves", "symbols", "gross USD", "theoretical saving", "achieved", "share", "sent", "unexecuted (dropped)", "crossed (alloc)"]
    rows = [[str(n.sleeves), str(n.symbols), f"{n.gross_turnover / 1e6:.2f}M", f"{n.theoretical_saving / 1e6:.2f}M",
             f"{n.achieved_saving / 1e6:.2f}M", f"{100 * n.share_achieved:.1f}%", f"{n.sent_to_market / 1e6:.2f}M",
             f"{n.left_unexecuted / 1e6:.3f}M", f"{n.crossed_by_allocation / 1e6:.2f}M"]]  # fmt: skip
    return _align(header, rows)


def format_targets(targets: Sequence[TargetResult]) -> str:
    return "\n".join(f"{t.status:4s}  {t.name}: {t.detail}" for t in targets)


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums, numpy scalars and NaN (-> None) into JSON values."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "value") and isinstance(obj.value, str):
        return obj.value
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(payload), indent=1), encoding="utf-8")


def write_png(path: Path, stats: Sequence[PolicyBucketStats], floors: Sequence[BucketFloors], policies: Sequence[str]) -> None:
    """Grouped bars: mean IS (bps) by bucket and policy, floors as markers (symlog y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buckets = [f.bucket for f in floors]
    x = np.arange(len(buckets))
    width = 0.8 / max(1, len(policies))
    fig, ax = plt.subplots(figsize=(11, 5))
    for i, pol in enumerate(policies):
        ys = [next((s.is_adj.mean for s in stats if s.bucket == b and s.policy == pol), np.nan) for b in buckets]
        ax.bar(x + (i - (len(policies) - 1) / 2) * width, ys, width, label=pol)
    ax.plot(x, [f.half_spread for f in floors], "k_", markersize=18, mew=2, label="half spread")
    ax.plot(x, [f.floor for f in floors], "r_", markersize=18, mew=2, label="floor (half spread + 2/3 impact)")
    ax.set_xticks(x, buckets)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylabel("completion-adjusted IS vs arrival mid (bps, + = cost)")
    ax.set_title("Execution quality by size bucket and policy (mean over cells)")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
