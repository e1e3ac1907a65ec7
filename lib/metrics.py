"""Prometheus metrics of the execution stack, in a dedicated registry.

Every :class:`ExecutionMetrics` owns its own ``CollectorRegistry`` (never the
process-global default), so one rebalance's metrics are exported alone and
tests do not leak into each other. Exposed series (namespace
``abstractfinance``; the seed's names exactly)::

    abstractfinance_execution_slippage_bps{instrument,side,asset_class}  histogram, bps (+ = cost)
    abstractfinance_execution_notional_total{asset_class}                counter, instrument currency
    abstractfinance_execution_commission_total                           counter, account currency
    abstractfinance_execution_replace_count{instrument}                  histogram, replaces per order
    abstractfinance_execution_netting_savings_qty                        gauge, units (see below)
    abstractfinance_execution_orders_by_policy{policy}                   gauge, orders (see below)
    abstractfinance_execution_rejected_total{reason}                     counter, orders
    abstractfinance_execution_risk_blocks_total{control}                 counter, blocks

Counter vs gauge: prometheus_client always exposes a Counter as
``<name>_total`` (the text format's family name included). The seed lists
``execution_netting_savings_qty`` and ``execution_orders_by_policy`` without
``_total``, and dashboards query those names, so they are **gauges** that are
only ever incremented within one registry: one registry per rebalance run,
pushed to the Pushgateway under ``{job, rebalance}``, i.e. the value is "this
run's total", the batch-job convention. Sum over runs in PromQL.

Buckets: slippage ``SLIPPAGE_BUCKETS_BPS`` run from 0 to 100 bps (far outside
any collar), finest across 0-12 bps where the per-asset-class caps (FX_FUT 2,
FUT 3, ETF 10, STK 12) live. There is deliberately no negative bucket:
prometheus_client drops a histogram's ``_sum`` series when its first bound
is negative, and the mean slippage (``sum(_sum) / sum(_count)``) is the
number dashboards need most. Price improvement (negative slippage) lands in
the ``le="0.0"`` bucket and still counts, with its sign, in ``_sum`` (so
``_sum`` may fall within a run: aggregate across pushed runs with
``sum``/``sum_over_time``, not ``rate``). Replaces ``REPLACE_BUCKETS`` are
integers around the default 6 attempts.

Label values must be bounded sets (instrument symbols from the registry,
enum values, reject reasons and control names from the code, never free text).

Export: :meth:`ExecutionMetrics.write_textfile` (node-exporter textfile
collector, atomic rename) and :meth:`ExecutionMetrics.push` (Pushgateway, PUT
replaces the run's group, so a rerun of the same rebalance overwrites its
series instead of adding to them). Neither raises on an I/O failure: a
metrics outage must not fail a rebalance. They return an
:class:`ExportResult` that the caller logs/alerts on (also logged here at
WARNING), with ``raise_for_error()`` for callers that require delivery.
"""

from __future__ import annotations

import http.client
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    push_to_gateway,
    write_to_textfile,
)

from lib.errors import ReportingError
from lib.types import AssetClass, ExecutionResult, PolicyMode, Side

__all__ = [
    "REPLACE_BUCKETS",
    "SLIPPAGE_BUCKETS_BPS",
    "ExecutionMetrics",
    "ExportResult",
    "record_execution_commission",
    "record_execution_fill",
    "record_execution_policy",
    "record_execution_rejected",
    "record_execution_replaces",
    "record_execution_result",
    "record_netting_savings",
    "record_risk_block",
]

log = logging.getLogger(__name__)

#: Slippage histogram upper bounds, bps (+Inf is added by prometheus_client).
SLIPPAGE_BUCKETS_BPS: tuple[float, ...] = (
    0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 12.0, 15.0, 25.0, 50.0, 100.0,
)
#: Replace-count histogram upper bounds (replaces per order).
REPLACE_BUCKETS: tuple[float, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15)

_DEFAULT_PUSH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Outcome of a textfile write or a Pushgateway push. ``target`` is the
    path or gateway address; ``detail`` the error text when ``ok`` is False."""

    ok: bool
    target: str
    detail: str = ""
    grouping_key: Mapping[str, str] = field(default_factory=dict)

    def raise_for_error(self) -> None:
        """Raise :class:`ReportingError` if the export failed."""
        if not self.ok:
            raise ReportingError(self.target, self.detail)


class ExecutionMetrics:
    """The execution metrics, registered in a fresh ``CollectorRegistry``."""

    def __init__(self, namespace: str = "abstractfinance") -> None:
        self.namespace = namespace
        self.registry = CollectorRegistry(auto_describe=True)
        r, ns = self.registry, namespace
        self.slippage_bps = Histogram(
            "execution_slippage_bps",
            "Per-order slippage vs arrival mid in basis points, positive = cost.",
            ["instrument", "side", "asset_class"],
            namespace=ns, registry=r, buckets=SLIPPAGE_BUCKETS_BPS,
        )
        self.notional = Counter(
            "execution_notional",
            "Filled notional in the instrument's currency.",
            ["asset_class"], namespace=ns, registry=r,
        )
        self.commission = Counter(
            "execution_commission",
            "Commission paid in account currency.",
            namespace=ns, registry=r,
        )
        self.replace_count = Histogram(
            "execution_replace_count",
            "Cancel/replace attempts per completed order.",
            ["instrument"], namespace=ns, registry=r, buckets=REPLACE_BUCKETS,
        )
        self.netting_savings_qty = Gauge(
            "execution_netting_savings_qty",
            "Units (shares/contracts) not traded thanks to cross-sleeve netting in this run.",
            namespace=ns, registry=r,
        )
        self.orders_by_policy = Gauge(
            "execution_orders_by_policy",
            "Orders planned in this run, by policy mode.",
            ["policy"], namespace=ns, registry=r,
        )
        self.rejected = Counter(
            "execution_rejected",
            "Orders rejected (by the policy or the broker), by reason.",
            ["reason"], namespace=ns, registry=r,
        )
        self.risk_blocks = Counter(
            "execution_risk_blocks",
            "Orders or rebalances blocked by a pre-trade risk control, by control.",
            ["control"], namespace=ns, registry=r,
        )

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (what is pushed/written)."""
        return generate_latest(self.registry)

    def write_textfile(self, path: str | Path) -> ExportResult:
        """Write the exposition to ``path`` (should end in ``.prom``) atomically
        (temp file in the same directory, then rename)."""
        target = str(path)
        try:
            write_to_textfile(target, self.registry)
        except OSError as exc:
            return _failed(target, f"{type(exc).__name__}: {exc}", {})
        return ExportResult(ok=True, target=target)

    def push(
        self,
        gateway: str,
        *,
        job: str = "rebalance",
        grouping_key: Mapping[str, str] | None = None,
        timeout_seconds: float = _DEFAULT_PUSH_TIMEOUT_SECONDS,
    ) -> ExportResult:
        """PUT the registry to a Pushgateway (``'host:port'`` or a URL) under
        ``job`` and ``grouping_key`` (e.g. ``{'rebalance': rebalance_id}``)."""
        key = dict(grouping_key or {})
        try:
            push_to_gateway(
                gateway, job=job, registry=self.registry, grouping_key=key, timeout=timeout_seconds
            )
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # URLError/HTTPError/timeouts are OSErrors; a bad address is a ValueError.
            return _failed(gateway, f"{type(exc).__name__}: {exc}", key)
        return ExportResult(ok=True, target=gateway, grouping_key=key)


def _failed(target: str, detail: str, key: Mapping[str, str]) -> ExportResult:
    log.warning("metrics export to %s failed: %s", target, detail)
    return ExportResult(ok=False, target=target, detail=detail, grouping_key=dict(key))


def _finite(name: str, value: float, *, non_negative: bool = False) -> float:
    if not math.isfinite(value) or (non_negative and value < 0):
        rule = "finite and >= 0" if non_negative else "finite"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return value


def _label(value: AssetClass | Side | PolicyMode | str | None) -> str:
    if value is None:
        return "UNKNOWN"
    return value.value if isinstance(value, AssetClass | Side | PolicyMode) else value


def record_execution_fill(
    metrics: ExecutionMetrics,
    *,
    instrument: str,
    side: Side | str,
    asset_class: AssetClass | str | None,
    slippage_bps: float,
    notional: float,
) -> None:
    """Observe one filled order's slippage (bps) and add its notional."""
    cls = _label(asset_class)
    metrics.slippage_bps.labels(instrument=instrument, side=_label(side), asset_class=cls).observe(
        _finite("slippage_bps", slippage_bps)
    )
    metrics.notional.labels(asset_class=cls).inc(_finite("notional", notional, non_negative=True))


def record_execution_replaces(metrics: ExecutionMetrics, *, instrument: str, replace_count: int) -> None:
    """Observe how many cancel/replace attempts one order needed."""
    if replace_count < 0:
        raise ValueError(f"replace_count must be >= 0, got {replace_count}")
    metrics.replace_count.labels(instrument=instrument).observe(replace_count)


def record_execution_commission(metrics: ExecutionMetrics, commission: float) -> None:
    """Add commission paid (account currency, >= 0)."""
    metrics.commission.inc(_finite("commission", commission, non_negative=True))


def record_netting_savings(metrics: ExecutionMetrics, saved_qty: int) -> None:
    """Add units saved by netting (>= 0)."""
    if saved_qty < 0:
        raise ValueError(f"saved_qty must be >= 0, got {saved_qty}")
    metrics.netting_savings_qty.inc(saved_qty)


def record_execution_policy(metrics: ExecutionMetrics, policy: PolicyMode | str) -> None:
    """Count one planned order under its policy mode (call once per plan)."""
    metrics.orders_by_policy.labels(policy=_label(policy)).inc()


def record_execution_rejected(metrics: ExecutionMetrics, reason: str) -> None:
    """Count one rejected order; ``reason`` from a bounded set (e.g. RejectReason)."""
    metrics.rejected.labels(reason=_label(reason)).inc()


def record_risk_block(metrics: ExecutionMetrics, control: str) -> None:
    """Count one risk-control block; ``control`` is the control's name."""
    metrics.risk_blocks.labels(control=control).inc()


def record_execution_result(metrics: ExecutionMetrics, result: ExecutionResult) -> None:
    """Record a terminal result: slippage + notional (if anything filled),
    commission and replace count. The policy is counted at plan time with
    :func:`record_execution_policy`, not here, so it is never double counted."""
    if result.filled_quantity > 0 and result.slippage_bps is not None:
        record_execution_fill(
            metrics,
            instrument=result.symbol,
            side=result.side,
            asset_class=result.asset_class,
            slippage_bps=result.slippage_bps,
            notional=result.notional,
        )
    record_execution_commission(metrics, result.commission)
    record_execution_replaces(metrics, instrument=result.symbol, replace_count=result.replace_count)
