"""Prometheus metrics of the execution stack, in a dedicated registry.

Every :class:`ExecutionMetrics` owns its own ``CollectorRegistry`` (never the
process-global default), so one rebalance's metrics are exported alone and
tests do not leak into each other. Exposed series (namespace
``abstractfinance``; the seed's names, with the ``_total`` suffix Prometheus
gives every counter)::

    abstractfinance_execution_slippage_bps{instrument,side,asset_class}  histogram, bps (+ = cost)
    abstractfinance_execution_notional_total{asset_class}                counter, instrument currency
    abstractfinance_execution_commission_total                           counter, account currency
    abstractfinance_execution_replace_count{instrument}                  histogram, replaces per order
    abstractfinance_execution_netting_savings_qty_total                  counter, units
    abstractfinance_execution_orders_by_policy_total{policy}             counter, orders planned
    abstractfinance_execution_rejected_total{source,reason}              counter, orders
    abstractfinance_execution_risk_blocks_total{control}                 counter, blocks

and the batch-job series of the run (Prometheus' convention for batch jobs;
timestamps are wall-clock Unix seconds, whatever clock the broker runs on)::

    abstractfinance_rebalance_last_run_timestamp_seconds                 gauge, s since epoch
    abstractfinance_rebalance_last_success_timestamp_seconds             gauge, only when outcome=success
    abstractfinance_rebalance_duration_seconds                           gauge, wall seconds of the run
    abstractfinance_rebalance_outcome{outcome}                           gauge, 1 for this run's outcome
                                                                         (success/incomplete/failed), 0 else
    abstractfinance_rebalance_orders                                     gauge, orders (intents) executed

``netting_savings_qty`` and ``orders_by_policy`` are counters as in the seed
(they used to be gauges named without ``_total``; dashboards use the new
names). ``rejected_total`` counts policy rejections (``source="policy"``,
reason = the RejectReason code) and broker rejections (``source="broker"``,
``reason="broker_rejected"``: the broker's text is free text, not a label).

Run labels: every series carries the run's labels (``rebalance``,
``schedule``, see ``run_labels``). node_exporter's textfile collector merges
every ``*.prom`` of its folder into one scrape and refuses a series that two
files both carry ("collected before with the same name and label values");
one file per rebalance, each series labelled with its rebalance, never
collide. On a push the same labels are the Pushgateway grouping key, so a
rerun of the same rebalance replaces its group (PUT) instead of adding.
``_created`` samples are not exported (they carry the process' wall clock,
are per-file noise in a textfile, and promtool/the collector gain nothing).

Buckets: slippage ``SLIPPAGE_BUCKETS_BPS`` run from 0 to 100 bps (far outside
any collar), finest across 0-12 bps where the per-asset-class caps (FX_FUT 2,
FUT 3, ETF 10, STK 12) live. There is deliberately no negative bucket:
prometheus_client drops a histogram's ``_sum`` series when its first bound
is negative, and the mean slippage (``sum(_sum) / sum(_count)``) is the
number dashboards need most. Price improvement (negative slippage) lands in
the ``le="0.0"`` bucket and still counts, with its sign, in ``_sum``.
Replaces ``REPLACE_BUCKETS`` are integers around the default 6 attempts.

Label values must be bounded sets (instrument symbols from the registry,
enum values, reject reasons and control names from the code, never free text).

A run that fails (an exception, a crash, a Blocked run) never reaches the
run's own export: :func:`export_failed_run` (called from the flow's failure
hook) writes ``outcome="failed"`` at 1 with the last run time and duration,
and never touches ``last_success_timestamp_seconds``: on the Pushgateway it
POSTs (replacing only the series it writes in the run's group, so an
earlier success's ``last_success`` and execution series stay); in a
textfile it rewrites the run's file keeping every family of the old file it
does not write (the same merge).

Export: :meth:`ExecutionMetrics.write_textfile` (node-exporter textfile
collector, atomic rename; :func:`prune_textfiles` keeps the folder bounded)
and :meth:`ExecutionMetrics.push` (Pushgateway). Neither raises on an I/O
failure: a metrics outage must not fail a rebalance. They return an
:class:`ExportResult` that the caller logs/alerts on (also logged here at
WARNING), with ``raise_for_error()`` for callers that require delivery.
The export plumbing (result type, collector views, textfile merge and
pruning) is in lib/metrics_io.py.
"""

from __future__ import annotations

import http.client
import math
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    push_to_gateway,
    pushadd_to_gateway,
    write_to_textfile,
)

from lib.metrics_io import ExportResult, Labelled, Merged, failed, prune_textfiles, read_families
from lib.types import AssetClass, ExecutionResult, PolicyMode, Side

__all__ = [
    "BROKER_REJECTED",
    "ENV_PUSHGATEWAY",
    "FAILED",
    "OUTCOMES",
    "REPLACE_BUCKETS",
    "SERIES",
    "SLIPPAGE_BUCKETS_BPS",
    "ExecutionMetrics",
    "ExportResult",
    "export_failed_run",
    "prune_textfiles",
    "record_execution_commission",
    "record_execution_fill",
    "record_execution_policy",
    "record_execution_rejected",
    "record_execution_replaces",
    "record_execution_result",
    "record_netting_savings",
    "record_risk_block",
    "record_run",
]

#: Slippage histogram upper bounds, bps (+Inf is added by prometheus_client).
SLIPPAGE_BUCKETS_BPS: tuple[float, ...] = (
    0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 12.0, 15.0, 25.0, 50.0, 100.0,
)
#: Replace-count histogram upper bounds (replaces per order).
REPLACE_BUCKETS: tuple[float, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15)
#: A run's outcome (``abstractfinance_rebalance_outcome{outcome}``).
OUTCOMES: tuple[str, ...] = ("success", "incomplete", "failed")
#: The outcome of a run that failed or crashed (:func:`export_failed_run`).
FAILED = "failed"
#: Environment: the Pushgateway (``host:port`` or URL); unset = textfiles.
ENV_PUSHGATEWAY = "EXEC_PUSHGATEWAY"
#: ``reason`` of a broker rejection (the broker's text is not a bounded label).
BROKER_REJECTED = "broker_rejected"
#: Every series name a dashboard may query (without the namespace prefix),
#: histogram parts included. tests/deployments check the Grafana JSON against it.
SERIES: tuple[str, ...] = (
    "execution_slippage_bps_bucket", "execution_slippage_bps_sum", "execution_slippage_bps_count",
    "execution_notional_total", "execution_commission_total",
    "execution_replace_count_bucket", "execution_replace_count_sum",
    "execution_replace_count_count", "execution_netting_savings_qty_total",
    "execution_orders_by_policy_total", "execution_rejected_total", "execution_risk_blocks_total",
    "rebalance_last_run_timestamp_seconds", "rebalance_last_success_timestamp_seconds",
    "rebalance_duration_seconds", "rebalance_outcome", "rebalance_orders",
)

_DEFAULT_PUSH_TIMEOUT_SECONDS = 5.0


class ExecutionMetrics:
    """The execution metrics of one run, registered in a fresh ``CollectorRegistry``.

    ``run_labels`` (e.g. ``{"rebalance": id, "schedule": slug}``) are added to
    every exported series and are the Pushgateway grouping key.
    """

    def __init__(
        self, namespace: str = "abstractfinance", *, run_labels: Mapping[str, str] | None = None
    ) -> None:
        self.namespace = namespace
        self.run_labels: dict[str, str] = dict(run_labels or {})
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
        self.netting_savings_qty = Counter(
            "execution_netting_savings_qty",
            "Units (shares/contracts) not traded thanks to cross-sleeve netting.",
            namespace=ns, registry=r,
        )
        self.orders_by_policy = Counter(
            "execution_orders_by_policy",
            "Orders planned, by policy mode.",
            ["policy"], namespace=ns, registry=r,
        )
        self.rejected = Counter(
            "execution_rejected",
            "Orders rejected, by source (policy or broker) and reason.",
            ["source", "reason"], namespace=ns, registry=r,
        )
        self.risk_blocks = Counter(
            "execution_risk_blocks",
            "Orders or rebalances blocked by a pre-trade risk control, by control.",
            ["control"], namespace=ns, registry=r,
        )

    @classmethod
    def run_series_only(cls, namespace: str = "abstractfinance", *,
                        run_labels: Mapping[str, str] | None = None) -> ExecutionMetrics:
        """A registry without the execution series (only what :func:`record_run`
        adds), so a merge or a Pushgateway POST leaves an earlier attempt's
        execution series alone instead of overwriting them with zeros."""
        m = cls(namespace, run_labels=run_labels)
        for c in (m.slippage_bps, m.notional, m.commission, m.replace_count, m.netting_savings_qty,
                  m.orders_by_policy, m.rejected, m.risk_blocks):
            m.registry.unregister(c)
        return m

    def _view(self, labels: Mapping[str, str]) -> Labelled:
        return Labelled(self.registry, labels)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format, run labels on every
        series (what is written to the textfile)."""
        return generate_latest(self._view(self.run_labels))

    def write_textfile(self, path: str | Path, *, merge: bool = False) -> ExportResult:
        """Write the exposition to ``path`` (should end in ``.prom``) atomically
        (temp file in the same directory, then rename). ``merge``: keep every
        family of the existing file that this registry does not write (an
        unreadable old file is replaced)."""
        target = str(path)
        labelled = self._view(self.run_labels)
        try:
            old = read_families(Path(path)) if merge else []
            write_to_textfile(target, Merged(labelled, old))
        except OSError as exc:
            return failed(target, f"{type(exc).__name__}: {exc}", {})
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
        ``job`` and ``grouping_key`` (default: the run labels). The grouping
        labels are attached by the Pushgateway, not repeated in the samples."""
        return self._push(push_to_gateway, gateway, job, grouping_key, timeout_seconds)

    def pushadd(
        self,
        gateway: str,
        *,
        job: str = "rebalance",
        grouping_key: Mapping[str, str] | None = None,
        timeout_seconds: float = _DEFAULT_PUSH_TIMEOUT_SECONDS,
    ) -> ExportResult:
        """POST to a Pushgateway: like :meth:`push`, but only the metric names
        this registry has are replaced in the group; the group's others stay."""
        return self._push(pushadd_to_gateway, gateway, job, grouping_key, timeout_seconds)

    def _push(self, how: Any, gateway: str, job: str, grouping_key: Mapping[str, str] | None,
              timeout_seconds: float) -> ExportResult:
        key = dict(self.run_labels if grouping_key is None else grouping_key)
        try:
            how(gateway, job=job, registry=self._view({}), grouping_key=key, timeout=timeout_seconds)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # URLError/HTTPError/timeouts are OSErrors; a bad address is a ValueError.
            return failed(gateway, f"{type(exc).__name__}: {exc}", key)
        return ExportResult(ok=True, target=gateway, grouping_key=key)


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


def record_execution_rejected(
    metrics: ExecutionMetrics, reason: str, *, source: str = "policy"
) -> None:
    """Count one rejected order; ``reason`` from a bounded set (RejectReason
    codes, or :data:`BROKER_REJECTED`), ``source`` ``"policy"`` or ``"broker"``."""
    if source not in ("policy", "broker"):
        raise ValueError(f"source must be 'policy' or 'broker', got {source!r}")
    metrics.rejected.labels(source=source, reason=_label(reason)).inc()


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


def record_run(
    metrics: ExecutionMetrics,
    *,
    outcome: str,
    finished_at: datetime,
    started_at: datetime | None = None,
    orders: int | None = 0,
) -> None:
    """The batch-job series: last run (and last success when ``outcome`` is
    ``"success"``) at ``finished_at`` (wall clock, tz-aware), the duration
    since ``started_at`` (seconds, omitted when unknown), one outcome at 1,
    the order count (omitted when None)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    if finished_at.tzinfo is None:
        raise ValueError("finished_at must be tz-aware")
    r, ns = metrics.registry, metrics.namespace

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        # Registered only here: a gauge never set would export 0 (1970).
        return Gauge(name, doc, list(labels), namespace=ns, registry=r)

    ts = finished_at.timestamp()
    gauge("rebalance_last_run_timestamp_seconds",
          "Wall-clock Unix time the rebalance run finished (any outcome).").set(ts)
    if outcome == "success":
        gauge("rebalance_last_success_timestamp_seconds",
              "Wall-clock Unix time the rebalance run finished with every order filled.").set(ts)
    if started_at is not None:
        gauge("rebalance_duration_seconds", "Wall-clock duration of the rebalance run, seconds.").set(
            max(0.0, (finished_at - started_at).total_seconds())
        )
    out = gauge("rebalance_outcome", "1 for the run's outcome (success, incomplete, failed), else 0.",
                ("outcome",))
    for o in OUTCOMES:
        out.labels(outcome=o).set(1.0 if o == outcome else 0.0)
    if orders is not None:
        gauge("rebalance_orders", "Parent orders (intents) the run executed.").set(orders)


def export_failed_run(
    rebalance_id: str,
    schedule: str,
    *,
    finished_at: datetime,
    started_at: datetime | None = None,
    folder: str | Path | None = None,
    gateway: str | None = None,
    textfiles_kept: int | None = None,
) -> ExportResult:
    """Export ``outcome="failed"`` for a run that failed or crashed (module
    docstring): last run at ``finished_at`` (wall clock, tz-aware), the
    duration since ``started_at``, ``last_success`` left as it was.

    Where: ``gateway`` (default ``$EXEC_PUSHGATEWAY``) by POST under job
    ``rebalance`` and the run's labels; else ``<folder>/<rebalance_id>.prom``
    (default folder: ``metrics`` in the var folder), merged with the file the
    run's earlier attempts left, the folder then pruned to ``textfiles_kept``
    files when given. Never raises on an I/O failure (see :class:`ExportResult`)."""
    m = ExecutionMetrics.run_series_only(run_labels={"rebalance": rebalance_id, "schedule": schedule})
    # A failed run knows no order count: none written (a merge keeps the old one).
    record_run(m, outcome=FAILED, finished_at=finished_at, started_at=started_at, orders=None)
    gw = gateway if gateway is not None else os.environ.get(ENV_PUSHGATEWAY, "").strip()
    if gw:
        return m.pushadd(gw, job="rebalance")
    if folder is None:
        from lib.varpaths import var_dir

        folder = var_dir() / "metrics"
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return failed(str(target), f"{type(exc).__name__}: {exc}", {})
    res = m.write_textfile(target / f"{rebalance_id}.prom", merge=True)
    if textfiles_kept is not None:
        prune_textfiles(target, textfiles_kept)
    return res
