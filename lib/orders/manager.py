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

Every order, replace and cancel passes the optional :class:`lib.orders.gate.MessagePacer`
(at most N messages per second of clock time) and every submit and modify the
optional :class:`lib.orders.gate.OrderGate` (pre-trade risk, kill switch): a blocked
submit returns a REJECTED ticket (``reject_reason`` says why, :attr:`OrderManager.blocked`
lists it) with no broker call and no events; a blocked replace leaves the order at
its price (event ``risk_blocked``). Cancels are never gated.

Outside the timers a caller may move one order now (:meth:`OrderManager.reprice_now`,
e.g. the PairExecutor sending a lagging leg to its collar edge) or hold its ladder
timer (:meth:`OrderManager.hold_reprices`); the collar check applies the same.

This module holds the public API and the poll loop; the per-order mechanics
(command retries, timers, update folding, orphan cleanup, events) are the base
class :class:`lib.orders.commands.OrderCommands`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import TracebackType

from lib.brokers.base import BrokerTransport, OrderRequest
from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import BrokerError, BrokerRejected, BrokerTransientError, RiskBlocked
from lib.orders.commands import OrderCommands
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.gate import MessagePacer, OrderGate
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

FillCallback = Callable[[OrderTicket, Fill], None]
TicketCallback = Callable[[OrderTicket], None]

DEFAULT_RETRY_BACKOFF_SECONDS = 0.5  # first retry wait; doubles per retry
DEFAULT_SHUTDOWN_GRACE_CYCLES = 10  # polls to wait for cancel confirmations
_EPS = 1e-6  # seconds / price tolerance


class OrderManager(OrderCommands):
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
        gate: OrderGate | None = None,
        pacer: MessagePacer | None = None,
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
        self._gate = gate
        self._pacer = pacer
        self.blocked: dict[str, str] = {}  # client order id -> why the gate refused it
        self.closed = False
        self.events: list[OrderEvent] = []
        self.protocol_errors = []  # BrokerProtocolError: broker reports refused or capped

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
        if self._gate is not None:
            why = self._gate.check_submit(plan, client_order_id)
            if why is not None:
                return self._blocked_ticket(plan, client_order_id, limit, parent_id, why)
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
        request = OrderRequest(
            client_order_id, plan.symbol, plan.side, plan.quantity, otype, limit,
            plan_mode=plan.mode, start_time=now, end_time=now + timedelta(seconds=plan.ttl_seconds),
        )  # fmt: skip
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

    def _blocked_ticket(
        self, plan: OrderPlan, coid: str, limit: float | None, parent_id: str | None, why: str
    ) -> OrderTicket:
        """A REJECTED ticket for a submit the gate refused: nothing was sent."""
        now = self._clock.now()
        ticket = OrderTicket(
            client_order_id=coid, plan=plan, quantity=plan.quantity, limit_price=limit,
            state=OrderState.REJECTED, submitted_at=None, last_update=now, messages=0,
            parent_id=parent_id, reject_reason=f"blocked before sending: {why}",
        )
        ts = now.timestamp()
        self._records[coid] = TrackedOrder(ticket, OrderState.REJECTED, ts, ts, reprices=False)
        self.blocked[coid] = why
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
        if self._gate_refuses_modify(rec, limit_price):
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
    def _drain(self, cycles: int) -> None:
        for _ in range(cycles):
            if not self._live:
                return
            self._clock.sleep(self.poll_interval_seconds)
            self.cancel_all()  # re-asks only orders whose cancel was refused
            self.poll()
