"""Supervised submission of one rebalance: reconcile, write-ahead, supervise.

This is the one long-running step of a rebalance (ONE Prefect task wraps it):

1. **Reconcile** with the broker before sending anything: every order of this
   rebalance still working at the broker (client order id prefix
   ``"<rebalance_id>:"``) is cancelled and awaited, then the broker's own
   executions give what each intent already filled. Only the residual trades,
   so a rerun (new run or a retry from the Prefect UI) never overfills.
2. **Write-ahead**: the order row is committed to the journal (the SQL ledger)
   when the OrderManager emits SUBMIT_SENT, which is *before* the request goes
   to the broker. Every fill is committed as it is seen, with the broker's exec
   id (the UNIQUE key), so a crash at any point leaves a consistent ledger.
3. **Supervise**: one OrderManager (TTL, cancel/replace on the policy's ladder,
   retries) plus one SliceExecutor per plan (a plan without slices is one
   child) and optional pair executors, polled on the injected Clock until every
   order is terminal; on exit every live order is cancelled (no orphans).

Client order ids are ``"<rebalance_id>:<intent key>:s<slice>:a<attempt>"``;
the intent key is the intent id without the rebalance prefix and with ``:``
made ``.``; the attempt is one more than any attempt seen in the ledger or at
the broker.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lib.brokers.base import BrokerTransport
from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import RiskBlocked, TooLateToCancel, UnknownOrder
from lib.instruments import InstrumentRegistry
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.manager import OrderManager
from lib.orders.parent import SliceExecutor
from lib.orders.requests import Repricer, ladder_repricer
from lib.orders.states import OrderState
from lib.slippage import compute_slippage_bps
from lib.types import ExecutionResult, Fill, MarketDataSnapshot, OrderPlan, OrderTicket, Side

__all__ = [
    "CHECKPOINTS",
    "NullJournal",
    "OrderJournal",
    "Reconciliation",
    "SupervisionReport",
    "intent_key",
    "parse_client_order_id",
    "reconcile",
    "supervise",
]

#: Named points where ``checkpoint`` is called (a seam for crash tests and tracing).
CHECKPOINTS = ("before_submit", "after_submit", "mid_fills", "after_fills")
_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_MAX_KEY = 20
#: Seconds to wait for leftover orders of an earlier run to confirm cancellation.
RECONCILE_SETTLE_SECONDS = 30.0


class OrderJournal(Protocol):
    """What supervision writes (LedgerRepository implements it)."""

    def record_order(
        self,
        client_order_id: str,
        *,
        rebalance_id: str,
        intent_id: str,
        symbol: str,
        side: Side,
        quantity: int,
        order_type: str,
        limit_price: float | None,
        mode: str | None = None,
        parent_id: str | None = None,
        slice_index: int = 0,
        attempt: int = 0,
    ) -> object: ...

    def record_order_events(self, events: Iterable[OrderEvent]) -> int: ...

    def record_fill(self, fill: Fill) -> bool: ...


class NullJournal:
    """Journal that keeps nothing (dry runs, benchmarks)."""

    def record_order(self, client_order_id: str, **kwargs: Any) -> object:
        return None

    def record_order_events(self, events: Iterable[OrderEvent]) -> int:
        return 0

    def record_fill(self, fill: Fill) -> bool:
        return True


def intent_key(rebalance_id: str, intent_id: str) -> str:
    """Short, ``:``-free key of an intent inside client order ids."""
    base = intent_id.removeprefix(f"{rebalance_id}:").replace(":", ".")
    if len(base) <= _MAX_KEY and _ID_RE.match(base):
        return base
    return "k" + hashlib.sha256(base.encode()).hexdigest()[: _MAX_KEY - 1]


def parse_client_order_id(rebalance_id: str, client_order_id: str) -> tuple[str, int, int] | None:
    """``(intent key, slice, attempt)`` of one of our ids, None if not ours."""
    prefix = f"{rebalance_id}:"
    if not client_order_id.startswith(prefix):
        return None
    parts = client_order_id[len(prefix) :].rsplit(":", 2)
    if len(parts) != 3 or not parts[1].startswith("s") or not parts[2].startswith("a"):
        return None
    try:
        return parts[0], int(parts[1][1:]), int(parts[2][1:])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What the broker already had for a rebalance before this run traded.

    executions: the broker's fills of every earlier run; cancelled: ids of
    leftover working orders this run cancelled; max_attempt: highest attempt
    seen at the broker (-1 if none).
    """

    executions: tuple[Fill, ...]
    cancelled: tuple[str, ...]
    max_attempt: int

    def executed_by_key(self, rebalance_id: str) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for f in self.executions:
            parsed = parse_client_order_id(rebalance_id, f.client_order_id)
            if parsed is not None:
                out[parsed[0]] += f.quantity
        return dict(out)


def reconcile(
    transport: BrokerTransport,
    clock: Clock,
    rebalance_id: str,
    *,
    poll_interval_seconds: float = 1.0,
    settle_seconds: float = RECONCILE_SETTLE_SECONDS,
) -> Reconciliation:
    """Cancel this rebalance's leftover working orders, then read executions.

    Raises RiskBlocked when a leftover order will not confirm its cancel
    within ``settle_seconds``: trading on would risk a double fill.
    """
    prefix = f"{rebalance_id}:"
    leftovers = [u for u in transport.get_open_orders() if u.client_order_id.startswith(prefix)]
    max_attempt = -1
    for u in leftovers:
        parsed = parse_client_order_id(rebalance_id, u.client_order_id)
        if parsed:
            max_attempt = max(max_attempt, parsed[2])
        try:
            transport.cancel_order(u.client_order_id)
        except (TooLateToCancel, UnknownOrder):
            pass
    ids = [u.client_order_id for u in leftovers]
    waited = 0.0
    while ids:
        statuses = transport.get_order_statuses(ids)
        ids = [i for i in ids if i in statuses and not statuses[i].is_terminal]
        if not ids:
            break
        if waited >= settle_seconds:
            raise RiskBlocked("reconcile", f"orders still working after cancel: {ids[:5]}")
        clock.sleep(poll_interval_seconds)
        waited += poll_interval_seconds
    executions = tuple(transport.get_executions(prefix))
    for f in executions:
        parsed = parse_client_order_id(rebalance_id, f.client_order_id)
        if parsed:
            max_attempt = max(max_attempt, parsed[2])
    return Reconciliation(executions, tuple(u.client_order_id for u in leftovers), max_attempt)


@dataclass(frozen=True, slots=True)
class SupervisionReport:
    """Outcome of one supervised submission (all runs of the rebalance counted).

    results: one ExecutionResult per plan, from the broker's executions;
    previously_executed: quantity per intent id filled by earlier runs.
    """

    rebalance_id: str
    attempt: int
    results: tuple[ExecutionResult, ...]
    previously_executed: Mapping[str, int]
    cancelled_leftovers: tuple[str, ...]
    orders_sent: int
    tickets: tuple[OrderTicket, ...] = field(default=(), repr=False)


def _residual_plan(plan: OrderPlan, key: str, residual: int) -> OrderPlan:
    """The plan for what is left, re-keyed; slices trimmed from the end."""
    slices = plan.slices
    if slices is not None:
        kids: list[int] = []
        left = residual
        for q in slices.child_quantities:
            if left <= 0:
                break
            kids.append(min(q, left))
            left -= kids[-1]
        slices = replace(slices, child_quantities=tuple(kids)) if len(kids) > 1 else None
    return replace(plan, intent=replace(plan.intent, intent_id=key, quantity=residual), slices=slices)


def supervise(
    plans: Sequence[OrderPlan],
    *,
    transport: BrokerTransport,
    clock: Clock,
    config: ExecutionConfig,
    rebalance_id: str,
    journal: OrderJournal | None = None,
    repricer: Repricer = ladder_repricer,
    market_data: Callable[[str], MarketDataSnapshot] | None = None,
    instruments: InstrumentRegistry | None = None,
    prior_attempt: int = -1,
    poll_interval_seconds: float = 1.0,
    timeout_seconds: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    checkpoint: Callable[[str], None] | None = None,
) -> SupervisionReport:
    """Reconcile, then execute the residual of every plan to a terminal state.

    ``prior_attempt``: highest attempt recorded in the ledger (-1: none).
    ``on_progress(done, total)`` is called as parent orders finish.
    ``timeout_seconds`` bounds supervision in clock time (default: the longest
    plan's schedule plus its TTL plus 60 s); at the bound every live order is
    cancelled.
    """
    if not _ID_RE.match(rebalance_id):
        raise ValueError(f"rebalance_id {rebalance_id!r} must match {_ID_RE.pattern}")
    jr: OrderJournal = journal if journal is not None else NullJournal()
    hook = checkpoint or (lambda _name: None)
    rec = reconcile(transport, clock, rebalance_id, poll_interval_seconds=poll_interval_seconds)
    attempt = max(prior_attempt, rec.max_attempt) + 1
    done_before = rec.executed_by_key(rebalance_id)

    keys: dict[str, str] = {}  # key -> original intent id
    work: list[OrderPlan] = []
    for plan in plans:
        key = intent_key(rebalance_id, plan.intent.intent_id)
        if key in keys:
            raise RiskBlocked("duplicate_intent", f"two plans share intent key {key!r}")
        keys[key] = plan.intent.intent_id
        residual = plan.quantity - done_before.get(key, 0)
        if residual > 0:
            work.append(_residual_plan(plan, key, residual))
    fills_seen = 0

    def on_event(ev: OrderEvent) -> None:
        nonlocal fills_seen
        if ev.kind is OrderEventKind.SUBMIT_SENT:
            parsed = parse_client_order_id(rebalance_id, ev.client_order_id)
            ticket = manager.ticket(ev.client_order_id)
            plan = ticket.plan
            jr.record_order(
                ev.client_order_id,
                rebalance_id=rebalance_id,
                intent_id=keys.get(plan.intent.intent_id, plan.intent.intent_id),
                symbol=plan.symbol,
                side=plan.side,
                quantity=ticket.quantity,
                order_type=plan.order_type.value,
                limit_price=ticket.limit_price,
                mode=plan.mode.value,
                parent_id=ticket.parent_id,
                slice_index=parsed[1] if parsed else 0,
                attempt=attempt,
            )
        if ev.client_order_id != "*":
            jr.record_order_events([ev])
        if ev.kind is OrderEventKind.FILL:
            for f in transport.get_executions(ev.client_order_id):
                if f.client_order_id == ev.client_order_id:
                    jr.record_fill(f)
            fills_seen += 1
            if fills_seen == 1:
                hook("mid_fills")

    manager = OrderManager(
        transport,
        clock,
        config,
        repricer=repricer,
        on_event=on_event,
        market_data=market_data,
        poll_interval_seconds=poll_interval_seconds,
    )
    if timeout_seconds is None:
        longest = max(
            (p.ttl_seconds + (p.slices.duration_seconds if p.slices else 0.0) for p in work),
            default=0.0,
        )
        timeout_seconds = longest + 60.0
    parents: list[SliceExecutor] = []
    with manager:
        hook("before_submit")
        for plan in work:
            inst = instruments.get(plan.symbol) if instruments and plan.symbol in instruments else None
            ex = SliceExecutor(
                manager, clock, plan, rebalance_id=rebalance_id, attempt=attempt,
                market_data=market_data, instrument=inst,
            )
            parents.append(ex)
            ex.start()
        hook("after_submit")
        started = clock.now()
        total = len(parents)
        while True:
            manager.poll()
            for ex in parents:
                ex.step()
            done = sum(1 for ex in parents if ex.done)
            if on_progress is not None:
                on_progress(done, total)
            if done == total and not manager.live_tickets:
                break
            if (clock.now() - started).total_seconds() >= timeout_seconds:
                for ex in parents:
                    ex.cancel()
                manager.cancel_all()
                break
            clock.sleep(poll_interval_seconds)
    hook("after_fills")
    executions = [
        f for f in transport.get_executions(f"{rebalance_id}:")
        if parse_client_order_id(rebalance_id, f.client_order_id) is not None
    ]
    for f in executions:
        jr.record_fill(f)
    results = tuple(
        _result(plan, executions, manager, rebalance_id, clock, instruments) for plan in plans
    )
    return SupervisionReport(
        rebalance_id=rebalance_id,
        attempt=attempt,
        results=results,
        previously_executed={keys[k]: q for k, q in done_before.items() if k in keys},
        cancelled_leftovers=rec.cancelled,
        orders_sent=len(manager.tickets),
        tickets=tuple(manager.tickets),
    )


def _result(
    plan: OrderPlan,
    executions: Sequence[Fill],
    manager: OrderManager,
    rebalance_id: str,
    clock: Clock,
    instruments: InstrumentRegistry | None,
) -> ExecutionResult:
    """One plan's outcome over every run, from the broker's executions."""
    key = intent_key(rebalance_id, plan.intent.intent_id)
    mine = [
        f for f in executions
        if (p := parse_client_order_id(rebalance_id, f.client_order_id)) and p[0] == key
    ]
    tickets = [t for t in manager.tickets if t.plan.intent.intent_id == key]
    filled = sum(f.quantity for f in mine)
    avg = sum(f.price * f.quantity for f in mine) / filled if filled else None
    stamps = [t.submitted_at for t in tickets if t.submitted_at] + [f.ts for f in mine]
    started = min(stamps, default=plan.created_at or clock.now())
    ends = [t.last_update for t in tickets if t.last_update] + [f.ts for f in mine]
    finished = max(ends, default=started)
    multiplier = (
        instruments[plan.symbol].multiplier if instruments and plan.symbol in instruments else 1.0
    )
    if filled >= plan.quantity:
        status = "filled"
    elif filled > 0:
        status = "partial"
    elif tickets and all(t.state == OrderState.REJECTED for t in tickets):
        status = "rejected"
    else:
        status = "unfilled"
    return ExecutionResult(
        intent_id=plan.intent.intent_id,
        symbol=plan.symbol,
        side=plan.side,
        requested_quantity=plan.quantity,
        filled_quantity=filled,
        avg_price=avg,
        arrival_mid=plan.arrival_mid,
        slippage_bps=compute_slippage_bps(plan.side, avg, plan.arrival_mid) if avg else None,
        status=status,
        mode=plan.mode,
        replace_count=sum(t.replace_count for t in tickets),
        commission=sum(f.commission for f in mine),
        started_at=started,
        finished_at=finished,
        messages=sum(t.messages for t in tickets),
        asset_class=plan.intent.asset_class,
        notional=abs((avg or 0.0) * filled * multiplier),
    )
