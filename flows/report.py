"""What a rebalance shows its user: the markdown artifact and the flow's
return value (a JSON-friendly dict the CLI prints as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lib.basket import NettingResult
from lib.pipeline import AllocationReport, GateReport, PlanSet, Prepared, RunSummary
from lib.risk import RiskBlock
from lib.supervisor import SupervisionReport

__all__ = ["dry_run_markdown", "run_markdown", "summary_dict"]


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def summary_dict(
    prepared: Prepared,
    gate: GateReport,
    netting: NettingResult,
    planset: PlanSet,
    blocks: Sequence[RiskBlock],
    report: SupervisionReport | None,
    allocation: AllocationReport | None,
) -> dict[str, Any]:
    """The flow's return value: counts and one row per order result."""
    out: dict[str, Any] = {
        "rebalance_id": prepared.rebalance_id,
        "rerun": not prepared.created,
        "intents": len(prepared.trades.intents),
        "skipped_below_drift": len(prepared.trades.skipped),
        "deferred": [f"{d.symbol}: {d.reason}" for d in gate.deferred],
        "net_orders": len(netting.net_intents),
        "dropped_min_notional": [f"{d.symbol} {d.quantity}" for d in netting.dropped],
        "netting_qty_saved": netting.benefit.qty_saved,
        "plans": len(planset.plans),
        "rejected": dict(planset.rejected),
        "risk_blocks": [f"{b.control}: {b.symbol}: {b.detail}" for b in blocks],
        "dry_run": report is None,
        "results": [],
    }
    if report is not None:
        out["attempt"] = report.attempt
        out["orders_sent"] = report.orders_sent
        out["results"] = [
            {
                "intent": r.intent_id,
                "symbol": r.symbol,
                "side": r.side.value,
                "requested": r.requested_quantity,
                "filled": r.filled_quantity,
                "avg_price": r.avg_price,
                "slippage_bps": r.slippage_bps,
                "status": r.status,
                "mode": r.mode.value,
                "replaces": r.replace_count,
            }
            for r in report.results
        ]
    if allocation is not None:
        out["allocations"] = [
            f"{a.sleeve} {a.symbol} {a.side.value} {a.allocated_qty}/{a.requested_qty}"
            for a in allocation.netted
        ]
    return out


def _head(prepared: Prepared, gate: GateReport, netting: NettingResult, planset: PlanSet,
          blocks: Sequence[RiskBlock]) -> list[str]:
    b = netting.benefit
    lines = [
        f"# Rebalance `{prepared.rebalance_id}`",
        "",
        f"* intents: {len(prepared.trades.intents)} (skipped below drift: {len(prepared.trades.skipped)})",
        f"* deferred by session gating: {len(gate.deferred)}",
        f"* netting: gross {b.gross_qty} -> net {b.net_qty} units "
        f"(saved {b.qty_saved}, notional saved {b.notional_saved:,.0f})",
        f"* dropped below min notional: {len(netting.dropped)}",
        f"* plans: {len(planset.plans)}, rejected: {len(planset.rejected)}, risk blocks: {len(blocks)}",
    ]
    for d in gate.deferred:
        lines.append(f"  * deferred {d.symbol}: {d.reason}")
    for blk in blocks:
        lines.append(f"  * blocked {blk.symbol} ({blk.control}): {blk.detail}")
    return lines


def dry_run_markdown(prepared: Prepared, gate: GateReport, netting: NettingResult,
                     planset: PlanSet, blocks: Sequence[RiskBlock]) -> str:
    lines = _head(prepared, gate, netting, planset, blocks)
    lines += ["", "**Dry run: nothing was sent.**", "", "| symbol | side | qty | mode | limit | collar | slices |",
              "|---|---|---:|---|---:|---|---:|"]
    for p in planset.plans:
        n = p.slices.n_slices if p.slices else 1
        lines.append(f"| {p.symbol} | {p.side.value} | {p.quantity} | {p.mode.value} | "
                     f"{_fmt(p.limit_price, 'g')} | {p.collar_low:g}-{p.collar_high:g} | {n} |")
    return "\n".join(lines)


def run_markdown(prepared: Prepared, gate: GateReport, netting: NettingResult, planset: PlanSet,
                 blocks: Sequence[RiskBlock], report: SupervisionReport, run: RunSummary) -> str:
    lines = _head(prepared, gate, netting, planset, blocks)
    lines += ["", f"Attempt {report.attempt}, orders sent {report.orders_sent}.", "",
              "| symbol | side | filled/requested | avg price | slippage bps | status | replaces |",
              "|---|---|---:|---:|---:|---|---:|"]
    for r in report.results:
        lines.append(f"| {r.symbol} | {r.side.value} | {r.filled_quantity}/{r.requested_quantity} | "
                     f"{_fmt(r.avg_price, 'g')} | {_fmt(r.slippage_bps)} | {r.status} | {r.replace_count} |")
    lines += ["", "```", run.text, "```"]
    return "\n".join(lines)
