"""The story of a rebalance as log lines, for whoever reads the run's log.

What was skipped for drift, deferred by the calendar, dropped below the
minimum notional, blocked by risk, rejected by the policy; every order sent,
replaced, cancelled, filled or rejected as it happens; what each run ended
with. The caller chooses the logger: the Prefect tasks pass their run logger
(``get_run_logger()``), so the lines land in the flow run's Logs tab; the
library itself never imports Prefect. Without one, lines go to the standard
logger ``lib.story`` (silent below WARNING unless configured).

Levels: INFO for the normal course (deferred by the calendar and dropped
below the minimum notional included: the rules working as meant), WARNING for
what a person should look at (blocked, no plan, rejected or failed orders, a
broker error absorbed, an intent left incomplete), ERROR for a broken broker
invariant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lib.basket import NettingResult
from lib.journal import OrderJournal
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.states import OrderState
from lib.risk import RiskBlock
from lib.targets.trades import SkippedTrade
from lib.types import ExecutionResult, Fill, Side

__all__ = [
    "STORY_LOGGER",
    "StoryJournal",
    "StoryLog",
    "story_logger",
    "tell_blocks",
    "tell_deferred",
    "tell_netting",
    "tell_rejected",
    "tell_results",
    "tell_skipped",
]

STORY_LOGGER = "lib.story"

#: A std logger or an adapter over one (Prefect's run logger is a LoggerAdapter).
StoryLog = logging.Logger | logging.LoggerAdapter[Any]


def story_logger(log: StoryLog | None = None) -> StoryLog:
    return log if log is not None else logging.getLogger(STORY_LOGGER)


def _px(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def tell_skipped(log: StoryLog, skipped: Sequence[SkippedTrade]) -> None:
    for s in skipped:
        log.info("skipped %s %s %s %d: %s (notional %.0f < threshold %.0f)", s.sleeve, s.side.value,
                 s.symbol, s.quantity, s.reason, s.notional_usd, s.threshold_usd)


def tell_deferred(log: StoryLog, deferred: Iterable[Any]) -> None:
    """``deferred``: lib.pipeline.Deferred records (symbol, calendar, reason, next window)."""
    for d in deferred:
        nxt = f", next window {d.next_window_start.isoformat(timespec='minutes')}" \
            if d.next_window_start is not None else ""
        log.info("deferred %s (%s): %s%s", d.symbol, d.calendar, d.reason, nxt)


def tell_netting(log: StoryLog, netting: NettingResult) -> None:
    b = netting.benefit
    log.info("netting: %d net orders, gross %d -> net %d units (saved %d, notional saved %.0f)",
             len(netting.net_intents), b.gross_qty, b.net_qty, b.qty_saved, b.notional_saved)
    for d in netting.dropped:
        log.info("dropped %s %s %d: %s (notional %.0f)", d.side.value, d.symbol, d.quantity,
                    d.reason, d.notional)


def tell_blocks(log: StoryLog, blocks: Sequence[RiskBlock], *, when: str = "pre-trade") -> None:
    for b in blocks:
        log.warning("blocked %s (%s, %s): %s", b.symbol, b.control, when, b.detail)


def tell_rejected(log: StoryLog, rejected: Mapping[str, str], blocks: Sequence[RiskBlock] = ()) -> None:
    """Intents that got no plan (not those already told as blocks)."""
    blocked = {b.intent_id for b in blocks}
    for intent_id, why in rejected.items():
        if intent_id not in blocked:
            log.warning("no plan for %s: %s", intent_id, why)


def tell_results(log: StoryLog, results: Sequence[ExecutionResult], *, attempt: int,
                 orders_sent: int) -> None:
    log.info("attempt %d done: %d orders sent, %d intents", attempt, orders_sent, len(results))
    for r in results:
        complete = r.filled_quantity >= r.requested_quantity
        slip = "-" if r.slippage_bps is None else f"{r.slippage_bps:.2f}"
        log.log(logging.INFO if complete else logging.WARNING,
                "%s %s %s: filled %d/%d avg %s, slippage %s bps, %s, %d replaces", r.intent_id,
                r.side.value, r.symbol, r.filled_quantity, r.requested_quantity, _px(r.avg_price),
                slip, r.status, r.replace_count)


_ORDER_DONE = {OrderState.CANCELLED, OrderState.EXPIRED}  # FILLED: its fill lines say it
_ORDER_BAD = {OrderState.REJECTED, OrderState.FAILED}


class StoryJournal:
    """An :class:`~lib.journal.OrderJournal` that tells what it records.

    Wraps the real journal (the SQL ledger): every call is forwarded
    unchanged; each order event is logged as it is committed (once per
    supervision poll cycle), so a live run's log follows the orders."""

    def __init__(self, inner: OrderJournal, log: StoryLog | None = None) -> None:
        self._inner = inner
        self._log = story_logger(log)
        self._orders: dict[str, str] = {}  # client order id -> "BUY 100 SPY LMT"

    def record_order(self, client_order_id: str, **kwargs: Any) -> object:
        side = kwargs.get("side")
        self._orders[client_order_id] = (
            f"{side.value if isinstance(side, Side) else side} {kwargs.get('quantity')} "
            f"{kwargs.get('symbol')} {kwargs.get('order_type')}"
        )
        return self._inner.record_order(client_order_id, **kwargs)

    def record_order_events(self, events: Iterable[OrderEvent]) -> int:
        batch = list(events)
        for ev in batch:
            self._tell(ev)
        return self._inner.record_order_events(batch)

    def record_fill(self, fill: Fill) -> bool:
        return self._inner.record_fill(fill)

    def _tell(self, ev: OrderEvent) -> None:
        cid, log, k = ev.client_order_id, self._log, ev.kind
        what = self._orders.get(cid, cid)
        detail = f" ({ev.detail})" if ev.detail else ""
        if k is OrderEventKind.SUBMIT_SENT:
            log.info("sent %s: %s limit %s", cid, what, _px(ev.price))
        elif k is OrderEventKind.MODIFY_SENT:
            log.info("replace %s: limit -> %s%s", cid, _px(ev.price), detail)
        elif k is OrderEventKind.CANCEL_SENT:
            log.info("cancel %s%s", cid, detail)
        elif k is OrderEventKind.FILL:
            log.info("fill %s: %s @ %s (%s)", cid, ev.quantity, _px(ev.price), what)
        elif k is OrderEventKind.STATE_CHANGED and ev.state in _ORDER_BAD:
            log.warning("%s %s: %s%s", ev.state.value, cid, what, detail)
        elif k is OrderEventKind.STATE_CHANGED and ev.state in _ORDER_DONE:
            log.info("%s %s%s", ev.state.value, cid, detail)
        elif k is OrderEventKind.RISK_BLOCKED:
            log.warning("replace of %s blocked%s", cid, detail)
        elif k is OrderEventKind.BROKER_ERROR:
            log.warning("broker error on %s%s", cid, detail)
        elif k is OrderEventKind.PROTOCOL_ERROR:
            log.error("broker protocol error on %s%s", cid, detail)
        elif k is OrderEventKind.CLEANUP:
            log.info("cleanup %s%s", cid, detail)
