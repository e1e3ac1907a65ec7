"""What a rebalance shows its user: the markdown artifact and the flow's
return value (a JSON-friendly dict the CLI prints as tables).

Every run, dry or not, lists what was not traded and why (``not_traded``:
skipped below the drift threshold, deferred by session gating, dropped below
the minimum notional, blocked by a risk control, rejected by the policy), and
the plans (``planned``: mode, limit, collar, slices) so a dry run shows what
it would have sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lib.basket import NettingResult
from lib.pipeline import AllocationReport, GateReport, PlanSet, Prepared, RunSummary
from lib.risk import RiskBlock
from lib.supervisor import SupervisionReport

__all__ = ["dry_run_markdown", "not_traded", "planned", "run_markdown", "summary_dict"]


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def planned(planset: PlanSet) -> list[dict[str, Any]]:
    """One row per plan: what would be / was sent."""
    return [
        {
            "intent": p.intent.intent_id, "symbol": p.symbol, "side": p.side.value,
            "quantity": p.quantity, "mode": p.mode.value, "order_type": p.order_type.value,
            "limit": p.limit_price, "collar_low": p.collar_low, "collar_high": p.collar_high,
            "arrival_mid": p.arrival_mid, "max_slippage_bps": p.max_slippage_bps,
            "ttl_seconds": p.ttl_seconds,
            "slices": p.slices.n_slices if p.slices else 1,
            "slice_style": p.slices.style if p.slices else None,
        }
        for p in planset.plans
    ]


def not_traded(prepared: Prepared, gate: GateReport, netting: NettingResult, planset: PlanSet,
               blocks: Sequence[RiskBlock]) -> list[dict[str, str]]:
    """Everything the run did not trade, one row each: ``kind`` (skipped_drift,
    deferred, dropped, blocked, rejected), ``item`` and ``reason``."""
    rows: list[dict[str, str]] = []
    for s in prepared.trades.skipped:
        rows.append({"kind": "skipped_drift",
                     "item": f"{s.sleeve}/{s.symbol} {s.side.value} {s.quantity} "
                             f"({s.current} -> {s.target})",
                     "reason": f"{s.reason}: notional ${s.notional_usd:,.0f} "
                               f"< threshold ${s.threshold_usd:,.0f}"})
    for d in gate.deferred:
        nxt = f"; next window {d.next_window_start.isoformat()}" if d.next_window_start else ""
        rows.append({"kind": "deferred", "item": f"{d.symbol} ({d.calendar})",
                     "reason": f"{d.reason}{nxt}"})
    for x in netting.dropped:
        rows.append({"kind": "dropped", "item": f"{x.symbol} {x.side.value} {x.quantity}",
                     "reason": f"{x.reason} (notional {x.notional:,.0f})"})
    for b in blocks:
        rows.append({"kind": "blocked", "item": b.symbol or "(rebalance)",
                     "reason": f"{b.control}: {b.detail}"})
    blocked = {b.intent_id for b in blocks}
    for intent, why in planset.rejected.items():
        if intent not in blocked:
            rows.append({"kind": "rejected", "item": intent, "reason": why})
    return rows


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
        "dropped_min_notional": [f"{d.symbol} {d.quantity}: {d.reason}" for d in netting.dropped],
        "netting_qty_saved": netting.benefit.qty_saved,
        "plans": len(planset.plans),
        "rejected": dict(planset.rejected),
        "risk_blocks": [f"{b.control}: {b.symbol}: {b.detail}" for b in blocks],
        "dry_run": report is None,
        "planned": planned(planset),
        "not_traded": not_traded(prepared, gate, netting, planset, blocks),
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
    rows = not_traded(prepared, gate, netting, planset, blocks)
    if rows:
        lines += ["", "Not traded:", ""]
        lines += [f"* {r['kind']} {r['item']}: {r['reason']}" for r in rows]
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
