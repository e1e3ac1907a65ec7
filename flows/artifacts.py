"""What a rebalance or a daily summary leaves in the Prefect UI (Artifacts tab
of the run): a markdown report, a table with one row per order (and per
intent that was deferred, dropped, blocked or got no plan, with the reason),
each with a description. Plain functions called from the flow (an artifact
is one API call; no task run needed). Keys are stable per rebalance id, so
the Artifacts page keeps the history of each key across reruns."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from lib.basket import NettingResult
from lib.daily import DayReport
from lib.pipeline import GateReport, PlanSet, Prepared, RunSummary
from lib.risk import RiskBlock
from lib.supervisor import SupervisionReport
from tasks.progress import artifact_key

__all__ = ["MAX_INLINE_PNG_BYTES", "charts_markdown", "day_rows", "dry_run_rows", "order_rows",
           "publish_charts", "publish_rebalance", "publish_table"]

#: A PNG up to this size is embedded in its markdown artifact (a data URI,
#: which both Prefect UIs render: v2 allows data:image/ in img src, v1 passes
#: any src); a larger one is named by path only.
MAX_INLINE_PNG_BYTES = 2_000_000

#: Columns of the orders table, in order (the same for every row).
COLUMNS = ("symbol", "side", "mode", "requested", "filled", "avg_price", "arrival_mid",
           "slippage_bps", "status", "replaces", "messages", "commission", "note")


def _num(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, nd)


def _row(**values: Any) -> dict[str, Any]:
    return {c: values.get(c) for c in COLUMNS}


def _not_traded(gate: GateReport, netting: NettingResult, planset: PlanSet,
                blocks: Sequence[RiskBlock]) -> list[dict[str, Any]]:
    rows = [_row(symbol=d.symbol, status="deferred", note=d.reason) for d in gate.deferred]
    rows += [_row(symbol=d.symbol, side=d.side.value, requested=d.quantity, status="dropped",
                  note=d.reason) for d in netting.dropped]
    rows += [_row(symbol=b.symbol, status="blocked", note=f"{b.control}: {b.detail}") for b in blocks]
    blocked = {b.intent_id for b in blocks}
    rows += [_row(symbol=iid, status="no plan", note=why)
             for iid, why in planset.rejected.items() if iid not in blocked]
    return rows


def order_rows(report: SupervisionReport, gate: GateReport, netting: NettingResult,
               planset: PlanSet, blocks: Sequence[RiskBlock]) -> list[dict[str, Any]]:
    """One row per intent executed, then one per intent not traded (with why)."""
    rows = [
        _row(symbol=r.symbol, side=r.side.value, mode=r.mode.value, requested=r.requested_quantity,
             filled=r.filled_quantity, avg_price=_num(r.avg_price), arrival_mid=_num(r.arrival_mid),
             slippage_bps=_num(r.slippage_bps, 2), status=r.status, replaces=r.replace_count,
             messages=r.messages, commission=_num(r.commission, 2), note=r.intent_id)
        for r in report.results
    ]
    return rows + _not_traded(gate, netting, planset, blocks)


def dry_run_rows(gate: GateReport, netting: NettingResult, planset: PlanSet,
                 blocks: Sequence[RiskBlock]) -> list[dict[str, Any]]:
    """One row per plan (status "planned", limit and collar in the note)."""
    rows = []
    for p in planset.plans:
        n = p.slices.n_slices if p.slices else 1
        limit = "-" if p.limit_price is None else f"{p.limit_price:g}"
        rows.append(_row(symbol=p.symbol, side=p.side.value, mode=p.mode.value, requested=p.quantity,
                         arrival_mid=_num(p.arrival_mid), status="planned",
                         note=f"limit {limit}, collar {p.collar_low:g}-{p.collar_high:g}, {n} slice(s)"))
    return rows + _not_traded(gate, netting, planset, blocks)


def publish_table(rows: list[dict[str, Any]], key: str, description: str) -> UUID:
    return create_table_artifact(rows, key=key, description=description)


def publish_rebalance(prepared: Prepared, gate: GateReport, netting: NettingResult, planset: PlanSet,
                      blocks: Sequence[RiskBlock], markdown: str, *,
                      report: SupervisionReport | None = None, run: RunSummary | None = None,
                      outcome: str = "") -> None:
    """The rebalance's markdown report and its orders table, both described."""
    rid = prepared.rebalance_id
    if report is None:
        rows = dry_run_rows(gate, netting, planset, blocks)
        head = f"Dry run of rebalance {rid}: {len(planset.plans)} plans, nothing sent"
    else:
        rows = order_rows(report, gate, netting, planset, blocks)
        filled = sum(1 for r in report.results if r.filled_quantity >= r.requested_quantity)
        shortfall = run.summary.shortfall_bps if run is not None and run.summary is not None else None
        sf = "" if shortfall is None else f", shortfall {shortfall:.2f} bps"
        head = (f"Rebalance {rid} attempt {report.attempt}: {filled}/{len(report.results)} intents "
                f"filled, {report.orders_sent} orders sent{sf}")
    tail = f" ({outcome})" if outcome else ""
    not_traded = len(rows) - (len(report.results) if report is not None else len(planset.plans))
    create_markdown_artifact(markdown, key=artifact_key("rebalance", rid),
                             description=f"{head}{tail}. Report: netting, deferred, blocks, TCA.")
    publish_table(rows, artifact_key("orders", rid),
                  f"{head}. One row per order"
                  + (f"; {not_traded} not traded (deferred/dropped/blocked/no plan, see note)"
                     if not_traded else "") + ".")


def day_rows(report: DayReport) -> list[dict[str, Any]]:
    """One row per rebalance of the day (oldest first): outcome, fills, costs."""
    rows = []
    for r in report.rebalances:
        s = r.summary
        rows.append({
            "rebalance": r.rebalance_id, "schedule": r.schedule, "status": r.status,
            "orders": s.orders, "full": s.orders_full, "partial": s.orders_partial,
            "unfilled": s.orders_unfilled, "fill_rate": _num(s.fill_rate, 4),
            "notional": _num(s.total_notional, 0), "slippage_bps": _num(s.slippage_bps_weighted, 2),
            "shortfall_bps": _num(s.shortfall_bps, 2), "shortfall_base": _num(r.shortfall_base, 2),
            "commission": _num(s.commission, 2), "replaces": s.replaces_total,
            "blocks": len(r.blocks), "dropped": len(r.dropped), "outliers": len(r.outliers),
        })
    return rows


def charts_markdown(title: str, paths: Sequence[str]) -> str:
    """Each PNG inline (a ``data:image/png;base64`` URI: Prefect's image
    artifact needs a URL the browser can fetch, and the server does not serve
    var/), with the file it came from."""
    lines = [f"# {title}", ""]
    if not paths:
        lines.append("No chart: nothing to draw (see the run's logs).")
    for path in paths:
        p = Path(path)
        lines.append(f"`{p}`")
        lines.append("")
        if p.is_file() and p.stat().st_size <= MAX_INLINE_PNG_BYTES:
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            lines += [f"![{p.stem}](data:image/png;base64,{data})", ""]
        else:
            lines += ["(not embedded: missing or larger than "
                      f"{MAX_INLINE_PNG_BYTES // 1_000_000} MB; open the file on the host)", ""]
    return "\n".join(lines)


def publish_charts(title: str, paths: Sequence[str], key: str, description: str) -> UUID:
    return create_markdown_artifact(charts_markdown(title, paths), key=key, description=description)
