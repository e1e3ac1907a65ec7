"""OrderManager: supervises orders at a broker until each is terminal.

One poll cycle = one ``transport.get_order_statuses(ids)`` call for every live
order, then per order: record new fills, map the broker status through the
transition table, and run two timers - reprice (modify to the next ladder
price every ``plan.replace_interval_seconds`` since the last (re)submission, at
most ``plan.max_replace_attempts`` times, never outside the plan's collar) and
TTL (cancel once ``plan.ttl_seconds`` have passed since the first submission;
the confirmed cancel becomes EXPIRED, filled quantity kept). Commands go out
only on those timers, so the steady state costs one broker call per cycle.

Fills come from *cumulative filled quantity deltas* in the batch status, not
from ``get_executions``: the status call is made anyway, so fills cost no extra
round trip, and a delta is exact (quantity and VWAP). Each derived fill gets
the deterministic exec id ``id_factory(client_order_id, cumulative_qty)``
(default ``"<id>#<cum>"``), so a repeated or stale update can never count a fill
twice (exec ids are de-duplicated; a cumulative that goes backwards is ignored).
The broker's own exec ids and commissions are for reconciliation, which reads
``get_executions(prefix)`` once per rebalance.

Errors: ``BrokerTransientError`` on a command is retried ``max_transient_retries``
times with exponential backoff (``clock.sleep``); submits and cancels are
idempotent at the broker so a resend is safe. After the bound the ticket goes
FAILED and its id joins :attr:`OrderManager.orphans`: at the start of every
later poll (and at shutdown) the manager sends one cancel for it, until the
broker answers with a terminal state or "unknown order" - so an order that did
reach the broker despite the error is never left working. Fills discovered
then are still recorded on the FAILED ticket. A failed status poll skips the
cycle; after more than ``max_transient_retries`` consecutive failed polls every
live ticket goes FAILED the same way. ``BrokerRejected`` on submit -> REJECTED
(never retried); on modify -> the order works on at its old price; on cancel
-> back to working, TTL retries the cancel, and after the retry bound FAILED.
``TooLateToCancel`` leaves the order pending; the next poll says FILLED.

Outside the timers a caller may move one order now (:meth:`OrderManager.reprice_now`,
e.g. the PairExecutor sending a lagging leg to its collar edge) or hold its ladder
timer (:meth:`OrderManager.hold_reprices`); the collar check applies the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from lib.brokers.base import BrokerTransport, OrderRequest, OrderUpdate
from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import (
    BrokerError,
    BrokerRejected,
    BrokerTransientError,
    RiskBlocked,
    TooLateToCancel,
    UnknownOrder,
)
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.requests import (
    CLIENT_ORDER_ID_MAX_LEN,
    Repricer,
    default_exec_id,
    ladder_repricer,
    make_client_order_id,
    order_type_for,
)
from lib.orders.states import (
    CANCELLABLE,
    REPLACEABLE,
    TERMINAL,
    CancelReason,
    OrderState,
    transition,
)
from lib.orders.tracking import TrackedOrder
from lib.types import Fill, MarketDataSnapshot, OrderPlan, OrderTicket, OrderType

__all__ = [
    "CLIENT_ORDER_ID_MAX_LEN",
    "OrderManager",
    "Repricer",
    "default_exec_id",
    "ladder_repricer",
    "make_client_order_id",
    "order_type_for",
]

T = TypeVar("T")
FillCallback = Callable[[OrderTicket, Fill], None]
TicketCallback = Callable[[OrderTicket], None]

DEFAULT_RETRY_BACKOFF_SECONDS = 0.5  # first retry wait; doubles per retry
DEFAULT_SHUTDOWN_GRACE_CYCLES = 10  # polls to wait for cancel confirmations
_EPS = 1e-6  # seconds / price tolerance


class OrderManager:
    """Submits plans as orders and supervises them to a terminal state.

    on_fill(ticket, fill) fires once per new fill; on_complete(ticket) once
    when a ticket becomes terminal; on_event(event) for every OrderEvent.
    market_data(symbol), when given, feeds the repricer a fresh snapshot at
    each replace (one call per replace, never per poll).
    poll_interval_seconds: sleep between polls in :meth:`run_until_complete`.
    retry_backoff_seconds: first retry wait, doubled per retry.
    id_factory(client_order_id, cumulative_qty) -> exec id of a derived fill.
    TTL, replace interval and attempts come from each plan (the policy fills
    them from ``config``); ``config.allow_market_orders`` gates MKT/MOC.
    """

    def __init__(
        self,
        transport: BrokerTransport,
        clock: Clock,
        config: ExecutionConfig,
        *,
        repricer: Repricer = ladder_repricer,
        on_fill: FillCallback | None = None,
        on_complete: TicketCallback | None = None,
        on_event: Callable[[OrderEvent], None] | None = None,
        market_data: Callable[[str], MarketDataSnapshot] | None = None,
        poll_interval_seconds: float = 1.0,
        max_transient_retries: int = 3,
        retry_backoff_seconds: float = DEFAULT_RETRY_BACKOFF_SECONDS,
        id_factory: Callable[[str, int], str] = default_exec_id,
    ) -> None:
        if poll_interval_seconds <= 0 or max_transient_retries < 0 or retry_backoff_seconds < 0:
            raise ValueError("poll interval must be > 0, retries and backoff >= 0")
        self._transport = transport
        self._clock = clock
        self._config = config
        self._repricer = repricer
        self._on_fill = on_fill
        self._on_complete = on_complete
        self._on_event = on_event
        self._market_data = market_data
        self.poll_interval_seconds = poll_interval_seconds
        self._max_retries = max_transient_retries
        self._backoff = retry_backoff_seconds
        self._id_factory = id_factory
        self._records: dict[str, TrackedOrder] = {}
        self._live: dict[str, TrackedOrder] = {}
        self._orphans: dict[str, int] = {}  # FAILED id -> cleanup attempts so far
        self._exec_ids: set[str] = set()
        self._poll_failures = 0
        self.closed = False
        self.events: list[OrderEvent] = []

    # ------------------------------------------------------------------ views
    @property
    def tickets(self) -> list[OrderTicket]:
        """Every ticket, in submission order."""
        return [r.ticket for r in self._records.values()]

    @property
    def live_tickets(self) -> list[OrderTicket]:
        return [r.ticket for r in self._live.values()]

    @property
    def orphans(self) -> list[str]:
        """FAILED orders whose cleanup cancel has not been confirmed yet."""
        return list(self._orphans)

    def ticket(self, client_order_id: str) -> OrderTicket:
        return self._records[client_order_id].ticket

    # ------------------------------------------------------------------ commands
    def submit(
        self, plan: OrderPlan, client_order_id: str, *, parent_id: str | None = None
    ) -> OrderTicket:
        """Send ``plan`` as one order and track it. Raises RiskBlocked (nothing
        sent) for a duplicate/over-long id, a non-positive quantity, a market
        order when ``allow_market_orders`` is off, or a limit outside the collar.
        A broker reject returns a REJECTED ticket; exhausted retries a FAILED one."""
        if self.closed:
            raise RiskBlocked("order_manager", f"{client_order_id}: manager is shut down")
        if client_order_id in self._records or len(client_order_id) > CLIENT_ORDER_ID_MAX_LEN:
            raise RiskBlocked("client_order_id", f"{client_order_id!r} is a duplicate or too long")
        if plan.quantity <= 0:
            raise RiskBlocked("quantity", f"{client_order_id}: quantity {plan.quantity} <= 0")
        otype = order_type_for(plan)
        limit: float | None = None
        if otype in (OrderType.MKT, OrderType.MOC):
            if not self._config.allow_market_orders:
                raise RiskBlocked("market_orders", f"{client_order_id}: allow_market_orders is off")
        else:
            limit = plan.limit_price
            self._check_price(plan, limit, client_order_id)
        now = self._clock.now()
        ticket = OrderTicket(
            client_order_id=client_order_id,
            plan=plan,
            quantity=plan.quantity,
            limit_price=limit,
            state=OrderState.PENDING_SUBMIT,
            submitted_at=now,
            last_update=now,
            messages=1,
            parent_id=parent_id,
        )
        ts = now.timestamp()
        rec = TrackedOrder(
            ticket, OrderState.PENDING_SUBMIT, ts, ts, reprices=otype is OrderType.LMT
        )
        self._records[client_order_id] = self._live[client_order_id] = rec
        request = OrderRequest(client_order_id, plan.symbol, plan.side, plan.quantity, otype, limit)
        self._event(rec, OrderEventKind.SUBMIT_SENT, price=limit, quantity=plan.quantity)
        try:
            update = self._call(rec, "submit", lambda: self._transport.submit_order(request))
        except BrokerRejected as exc:
            ticket.reject_reason = exc.reason
            self._set_state(rec, OrderState.REJECTED, exc.reason)
            self._finalize(rec)
            return ticket
        except BrokerError as exc:
            self._fail(rec, f"submit: {exc}")
            return ticket
        self._apply(rec, update)
        return ticket

    def cancel(self, client_order_id: str) -> OrderTicket:
        """Ask the broker to cancel one order (no-op unless it is cancellable)."""
        rec = self._records[client_order_id]
        self._cancel(rec, CancelReason.USER)
        return rec.ticket

    def cancel_all(self) -> list[OrderTicket]:
        """Send a cancel for every live order not already being cancelled."""
        sent = []
        for rec in list(self._live.values()):
            if rec.state in CANCELLABLE:
                self._cancel(rec, CancelReason.USER)
                sent.append(rec.ticket)
        return sent

    def reprice_now(
        self, client_order_id: str, limit_price: float, *, next_rung: int | None = None
    ) -> bool:
        """Modify one working limit order to ``limit_price`` now, off the ladder timer.

        For urgent moves decided outside the manager (a pair's lagging leg sent
        to its collar edge, a passive-first order switching to the touch). The
        price is collar-checked like every other: outside the plan's collar (or
        not finite / <= 0) raises RiskBlocked and nothing is sent, whatever the
        order's state. Returns True if a modify was sent; False when the order
        is not replaceable right now (pending submit/replace/cancel, terminal:
        the caller may retry next cycle) or already works at that price.

        When replaceable, the replace timer restarts from now and ``next_rung``
        sets the ladder rungs counted as consumed: None pins the price (the
        timer never reprices this order again); ``k`` makes the timer's next
        reprice rung ``k + 1`` (0 restarts the ladder), one replace interval later.
        """
        rec = self._records[client_order_id]
        ticket = rec.ticket
        if not rec.reprices:
            raise RiskBlocked("reprice", f"{client_order_id}: not a limit order, nothing to move")
        if next_rung is not None and next_rung < 0:
            raise ValueError(f"next_rung must be >= 0 or None (got {next_rung})")
        self._check_price(ticket.plan, limit_price, client_order_id)
        if rec.state not in REPLACEABLE:
            return False
        max_attempts = ticket.plan.max_replace_attempts
        rec.attempt = max_attempts if next_rung is None else min(next_rung, max_attempts)
        rec.last_submit_ts = self._clock.now().timestamp()
        if ticket.limit_price is not None and abs(limit_price - ticket.limit_price) < _EPS:
            return False
        return self._send_modify(rec, limit_price, "reprice_now")

    def hold_reprices(self, client_order_id: str, seconds: float) -> None:
        """No ladder-timer reprice of this order for the next ``seconds``
        (clock seconds; TTL unaffected). A later :meth:`reprice_now` restarts
        the timer as usual. No-op for a terminal order."""
        if seconds < 0:
            raise ValueError(f"hold seconds must be >= 0 (got {seconds})")
        rec = self._records[client_order_id]
        if rec.state in TERMINAL:
            return
        # The timer fires at last_submit_ts + interval; push that to now + seconds.
        due = self._clock.now().timestamp() + seconds - rec.ticket.plan.replace_interval_seconds
        rec.last_submit_ts = max(rec.last_submit_ts, due)

    def shutdown(self, grace_cycles: int = DEFAULT_SHUTDOWN_GRACE_CYCLES) -> list[OrderTicket]:
        """Refuse new orders, cancel every live order, wait up to
        ``grace_cycles`` polls for confirmations, try the orphans once more.
        Returns the tickets still live (empty unless the broker is unreachable)."""
        self.closed = True
        self.cancel_all()
        self._drain(grace_cycles)
        if self._orphans:
            self._cleanup_orphans()
        return self.live_tickets

    def __enter__(self) -> OrderManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Cancel on *any* exit: an order still live when its supervisor leaves is an orphan.
        self.shutdown()

    # ------------------------------------------------------------------ supervision
    def run_until_complete(self, timeout_seconds: float | None = None) -> list[OrderTicket]:
        """Poll + ``clock.sleep(poll_interval)`` until every ticket is terminal.
        On timeout (seconds of clock time) cancel everything still live and
        wait a bounded grace for the confirmations. Returns every ticket."""
        start = self._clock.now()
        while self._live:
            if timeout_seconds is not None:
                if (self._clock.now() - start).total_seconds() >= timeout_seconds - _EPS:
                    self.cancel_all()
                    self._drain(DEFAULT_SHUTDOWN_GRACE_CYCLES)
                    break
            self._clock.sleep(self.poll_interval_seconds)
            self.poll()
        if self._orphans:
            self._cleanup_orphans()
        return self.tickets

    def poll(self) -> list[OrderTicket]:
        """One supervision cycle (one batch status call). Returns the tickets
        that changed: new state, new fill, or a command sent."""
        if self._orphans:
            self._cleanup_orphans()
        if not self._live:
            return []
        ids = list(self._live)
        changed: dict[str, OrderTicket] = {}
        try:
            statuses = self._transport.get_order_statuses(ids)
        except BrokerTransientError as exc:
            self._poll_failures += 1
            self._event(
                None,
                OrderEventKind.BROKER_ERROR,
                detail=f"status poll {self._poll_failures}: {exc}",
            )
            if self._poll_failures > self._max_retries:
                for lost in list(self._live.values()):
                    self._fail(lost, f"status polls failed {self._poll_failures} times: {exc}")
                    changed[lost.client_order_id] = lost.ticket
            else:
                self._clock.sleep(self._backoff * 2 ** (self._poll_failures - 1))
            return list(changed.values())
        self._poll_failures = 0
        now_ts = self._clock.now().timestamp()
        for coid in ids:
            found = self._live.get(coid)  # a callback may have finished it meanwhile
            if found is None:
                continue
            rec = found
            update = statuses.get(coid)
            if update is None:
                rec.misses += 1
                if rec.misses > self._max_retries:
                    self._fail(rec, f"broker omitted the order from {rec.misses} status polls")
                    changed[coid] = rec.ticket
                continue
            rec.misses = 0
            if rec.is_news(update) and self._apply(rec, update):
                changed[coid] = rec.ticket
            if rec.state not in TERMINAL and self._timers(rec, now_ts):
                changed[coid] = rec.ticket
        return list(changed.values())

    # ------------------------------------------------------------------ internals
    def _timers(self, rec: TrackedOrder, now_ts: float) -> bool:
        if rec.ttl_due(now_ts):
            self._cancel(rec, CancelReason.EXPIRE)
            return True
        if rec.replace_due(now_ts):
            return self._replace(rec, now_ts)
        return False

    def _replace(self, rec: TrackedOrder, now_ts: float) -> bool:
        ticket, plan = rec.ticket, rec.ticket.plan
        coid = ticket.client_order_id
        snapshot = None
        if self._market_data is not None:
            try:
                snapshot = self._market_data(ticket.symbol)
            except BrokerError as exc:  # no fresh quote: reprice off the ladder alone
                self._event(rec, OrderEventKind.BROKER_ERROR, detail=f"market data: {exc}")
        attempt = rec.attempt + 1
        price = self._repricer(plan, attempt, snapshot)
        self._check_price(plan, price, coid)  # raises: an out-of-collar price is never sent
        rec.attempt = attempt
        rec.last_submit_ts = now_ts
        if ticket.limit_price is not None and abs(price - ticket.limit_price) < _EPS:
            return False  # same price: a modify would only lose queue priority
        return self._send_modify(rec, price, f"attempt {attempt}")

    def _send_modify(self, rec: TrackedOrder, price: float, detail: str) -> bool:
        """Send one modify to ``price`` (already collar-checked) and fold the answer."""
        ticket = rec.ticket
        coid = ticket.client_order_id
        self._set_state(rec, OrderState.PENDING_REPLACE, detail)
        rec.replace_price = price
        ticket.messages += 1
        ticket.replace_count += 1
        self._event(rec, OrderEventKind.MODIFY_SENT, price=price, detail=detail)
        try:
            update = self._call(rec, "modify", lambda: self._transport.modify_order(coid, price))
        except BrokerRejected as exc:
            rec.replace_price = None
            self._event(rec, OrderEventKind.BROKER_ERROR, detail=f"replace refused: {exc.reason}")
            self._set_state(rec, rec.working_state(), "replace refused")
            return True
        except TooLateToCancel:
            self._event(rec, OrderEventKind.BROKER_ERROR, detail="replace too late: order done")
            return True
        except BrokerError as exc:
            self._fail(rec, f"modify: {exc}")
            return True
        self._apply(rec, update)
        return True

    def _cancel(self, rec: TrackedOrder, reason: CancelReason) -> None:
        if rec.state not in CANCELLABLE:
            return
        coid = rec.ticket.client_order_id
        self._set_state(rec, OrderState.PENDING_CANCEL, reason.value)
        rec.cancel_reason = reason
        rec.replace_price = None
        rec.ticket.messages += 1
        self._event(rec, OrderEventKind.CANCEL_SENT, detail=reason.value)
        try:
            update = self._call(rec, "cancel", lambda: self._transport.cancel_order(coid))
        except TooLateToCancel:
            self._event(rec, OrderEventKind.BROKER_ERROR, detail="too late to cancel")
            return
        except BrokerRejected as exc:
            rec.cancel_refusals += 1
            if rec.cancel_refusals > self._max_retries:
                self._fail(rec, f"cancel refused {rec.cancel_refusals} times: {exc.reason}")
                return
            rec.cancel_reason = None  # the TTL timer will ask again next cycle
            self._set_state(rec, rec.working_state(), f"cancel refused: {exc.reason}")
            return
        except BrokerError as exc:
            self._fail(rec, f"cancel: {exc}")
            return
        self._apply(rec, update)

    def _call(self, rec: TrackedOrder, what: str, fn: Callable[[], T]) -> T:
        """Run a broker command, retrying transient errors with backoff."""
        for attempt in range(self._max_retries + 1):
            try:
                return fn()
            except BrokerTransientError as exc:
                self._event(
                    rec, OrderEventKind.BROKER_ERROR, detail=f"{what} try {attempt + 1}: {exc}"
                )
                if attempt >= self._max_retries:
                    raise
                self._clock.sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply(self, rec: TrackedOrder, update: OrderUpdate) -> bool:
        """Fold one broker update into the ticket. True if anything changed."""
        ticket = rec.ticket
        if update.filled_quantity < ticket.filled_quantity:
            detail = f"filled went back {ticket.filled_quantity}->{update.filled_quantity}"
            self._event(rec, OrderEventKind.BROKER_ERROR, detail=f"{detail}; update ignored")
            return False  # stale; the next poll brings the truth
        fill = self._take_fill(rec, update)
        target = rec.implied_state(update)
        changed = fill is not None
        if target is not rec.state:
            if target in TERMINAL and update.reason:
                ticket.reject_reason = update.reason
            self._set_state(rec, target, update.reason or update.status.value)
            changed = True
        if fill is not None and self._on_fill is not None:
            self._on_fill(ticket, fill)
        if rec.state in TERMINAL:
            self._finalize(rec)
        return changed

    def _take_fill(self, rec: TrackedOrder, update: OrderUpdate) -> Fill | None:
        exec_id = self._id_factory(rec.client_order_id, update.filled_quantity)
        if exec_id in self._exec_ids:
            return None
        fill = rec.take_fill(update, exec_id, self._clock.now())
        if fill is not None:
            self._exec_ids.add(exec_id)
            self._event(
                rec, OrderEventKind.FILL, price=fill.price, quantity=fill.quantity, detail=exec_id
            )
        return fill

    def _cleanup_orphans(self) -> None:
        """One cancel per FAILED order (no retries: next cycle tries again)."""
        for coid in list(self._orphans):
            rec = self._records[coid]
            self._orphans[coid] += 1
            try:
                try:
                    update = self._transport.cancel_order(coid)
                    rec.ticket.messages += 1
                except TooLateToCancel:
                    update = self._transport.get_order_status(coid)
            except UnknownOrder:
                del self._orphans[coid]
                self._event(
                    rec, OrderEventKind.CLEANUP, detail="not at the broker: nothing to cancel"
                )
                continue
            except BrokerError as exc:
                self._event(rec, OrderEventKind.CLEANUP, detail=f"cleanup cancel failed: {exc}")
                continue
            fill = self._take_fill(rec, update)
            if fill is not None and self._on_fill is not None:
                self._on_fill(rec.ticket, fill)
            if update.is_terminal:
                del self._orphans[coid]
            self._event(rec, OrderEventKind.CLEANUP, detail=f"broker says {update.status.value}")

    def _drain(self, cycles: int) -> None:
        for _ in range(cycles):
            if not self._live:
                return
            self._clock.sleep(self.poll_interval_seconds)
            self.cancel_all()  # re-asks only orders whose cancel was refused
            self.poll()

    def _check_price(self, plan: OrderPlan, price: float | None, coid: str) -> None:
        if price is None or not math.isfinite(price) or price <= 0:
            raise RiskBlocked("collar", f"{coid}: invalid limit price {price!r}")
        if not plan.in_collar(price):
            raise RiskBlocked(
                "collar",
                f"{coid}: limit {price} outside collar [{plan.collar_low}, {plan.collar_high}]",
            )

    def _fail(self, rec: TrackedOrder, detail: str) -> None:
        if rec.state in TERMINAL:
            return
        rec.ticket.reject_reason = detail
        self._set_state(rec, OrderState.FAILED, detail)
        self._orphans[rec.ticket.client_order_id] = 0
        self._finalize(rec)

    def _set_state(self, rec: TrackedOrder, target: OrderState, detail: str = "") -> None:
        previous = rec.state
        rec.state = transition(rec.ticket.client_order_id, previous, target)
        rec.ticket.state = target
        rec.ticket.last_update = self._clock.now()
        self._event(rec, OrderEventKind.STATE_CHANGED, previous=previous, detail=detail)

    def _finalize(self, rec: TrackedOrder) -> None:
        if self._live.pop(rec.ticket.client_order_id, None) is not None and self._on_complete:
            self._on_complete(rec.ticket)

    def _event(
        self,
        rec: TrackedOrder | None,
        kind: OrderEventKind,
        *,
        previous: OrderState | None = None,
        price: float | None = None,
        quantity: int | None = None,
        detail: str = "",
    ) -> None:
        event = OrderEvent(
            ts=self._clock.now(),
            client_order_id=rec.ticket.client_order_id if rec is not None else "*",
            kind=kind,
            state=rec.state if rec is not None else None,
            previous=previous,
            price=price,
            quantity=quantity,
            detail=detail,
        )
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)
