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
   child) and one PairExecutor for the pair groups (legs sent together,
   legging protection with a temporary hedge), polled on the injected Clock
   until every order is terminal; on exit every live order is cancelled.
   A pair whose legs no longer all have residual quantity (a rerun after a
   partial run), or whose leg is sliced, trades its legs as plain orders.
   A hedge left open by a crashed run is flattened first (``<group>.unwind``).
4. **Controls**: every submit and replace passes the gate (pre-trade risk on
   children, hedges and replaces: :mod:`lib.order_risk`) and every command the
   message pacer (``max_messages_per_second``). The kill switch is polled every
   cycle: once engaged, every live order is cancelled, no child, replace or
   hedge is sent, and a ``kill_switch`` block per unfinished intent is
   reported (:attr:`SupervisionReport.blocks`).

Client order ids are ``"<rebalance_id>:<intent key>:s<slice>:a<attempt>"``;
the intent key is the intent id without the rebalance prefix and with ``:``
made ``.``; the attempt is one more than any attempt seen in the ledger or at
the broker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from lib.brokers.base import BrokerTransport
from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import RiskBlocked
from lib.execution_result import execution_result
from lib.instruments import InstrumentRegistry
from lib.journal import NullJournal, OrderJournal
from lib.order_risk import KillSwitchGate
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.gate import MessagePacer
from lib.orders.manager import OrderManager
from lib.orders.parent import SliceExecutor
from lib.orders.requests import Repricer, ladder_repricer
from lib.orders.vetting import OVERFILL
from lib.pair import PairExecutor, PairResult
from lib.policy import ExecutionPolicy
from lib.reconcile import (
    ID_PATTERN,
    Reconciliation,
    hedge_unwinds,
    intent_key,
    parse_client_order_id,
    reconcile,
)
from lib.risk import KillSwitch, RiskBlock
from lib.types import (
    ExecutionResult,
    MarketDataSnapshot,
    OrderPlan,
    OrderTicket,
    PairGroup,
)

__all__ = [
    "CHECKPOINTS",
    "OVERFILL_CONTROL",
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

#: Control of the block reported for a broker overfill (lib.orders.vetting).
OVERFILL_CONTROL = "broker_overfill"


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
    pairs: tuple[PairResult, ...] = ()
    blocks: tuple[RiskBlock, ...] = ()  # what the gate refused during supervision


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
    pairs: Sequence[PairGroup] = (),
    policy: ExecutionPolicy | None = None,
    poll_interval_seconds: float = 1.0,
    timeout_seconds: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    checkpoint: Callable[[str], None] | None = None,
    gate: KillSwitchGate | None = None,
    kill_switch: KillSwitch | None = None,
    max_messages_per_second: float | None = None,
) -> SupervisionReport:
    """Reconcile, then execute the residual of every plan to a terminal state.

    ``prior_attempt``: highest attempt recorded in the ledger (-1: none).
    ``pairs`` need ``policy`` (hedge plans, collar edges for the lagging leg).
    ``on_progress(done, total)`` is called as parent orders finish.
    ``timeout_seconds`` bounds supervision in clock time (default: the longest
    plan's schedule plus its TTL plus 60 s); at the bound every live order is
    cancelled. ``gate`` checks every submit/replace; ``kill_switch`` is polled
    each cycle; ``max_messages_per_second`` paces orders, cancels and modifies.
    """
    if not ID_PATTERN.match(rebalance_id):
        raise ValueError(f"rebalance_id {rebalance_id!r} must match {ID_PATTERN.pattern}")
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
    if pairs and policy is None:
        raise ValueError("pair groups need the ExecutionPolicy (policy=...)")
    paired, groups = _pair_route(rebalance_id, pairs, work)
    if policy is not None:
        work.extend(hedge_unwinds(rebalance_id, rec, pairs, policy, market_data))
    fills_seen = 0
    journaled: set[str] = set()  # exec ids already committed by this run
    # Order events are committed once per poll cycle, not one transaction
    # each; the order row (write-ahead, before the send) and every fill are
    # still committed on their own at once. Events of a crashed cycle are lost,
    # and the next run settles those orders' statuses against the broker.
    pending: list[OrderEvent] = []

    def flush() -> None:
        if pending:
            jr.record_order_events(pending)
            pending.clear()

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
            pending.append(ev)
        if ev.kind is OrderEventKind.FILL:
            for f in transport.get_executions(ev.client_order_id):
                if f.client_order_id == ev.client_order_id and f.exec_id not in journaled:
                    jr.record_fill(f)
                    journaled.add(f.exec_id)
            fills_seen += 1
            if fills_seen == 1:
                hook("mid_fills")

    if kill_switch is not None and gate is None:
        gate = KillSwitchGate()
    manager = OrderManager(
        transport,
        clock,
        config,
        repricer=repricer,
        on_event=on_event,
        market_data=market_data,
        poll_interval_seconds=poll_interval_seconds,
        gate=gate,
        pacer=MessagePacer(clock, max_messages_per_second) if max_messages_per_second else None,
    )

    def killed(started: bool = True) -> bool:
        """Poll the kill switch; on engagement halt the gate and cancel everything."""
        if kill_switch is None or gate is None or gate.halted is not None:
            return False
        engaged, reason = kill_switch.is_engaged()
        if not engaged:
            return False
        unfinished = [ex.plan for ex in parents if not ex.done]
        filled: dict[str, int] = {}
        for t in manager.tickets:
            filled[t.plan.intent.intent_id] = filled.get(t.plan.intent.intent_id, 0) + t.filled_quantity
        unfinished += [p for ps in paired.values() for p in ps
                       if filled.get(p.intent.intent_id, 0) < p.quantity]
        gate.halt(reason or "engaged", unfinished if started else work)
        for ex in parents:
            ex.cancel()
        for e in pair_ex.executions if pair_ex else ():
            e.cancel()
        manager.cancel_all()
        return True
    if timeout_seconds is None:
        longest = max(
            (p.ttl_seconds + (p.slices.duration_seconds if p.slices else 0.0) for p in work),
            default=0.0,
        )
        timeout_seconds = longest + 60.0
    parents: list[SliceExecutor] = []
    pair_ex = (
        PairExecutor(manager, clock, config, policy, market_data or transport.get_market_data)
        if groups and policy is not None
        else None
    )
    with manager:
        killed(started=False)  # engaged before the first send: every submit is refused
        hook("before_submit")
        if pair_ex is not None:
            for group in groups:
                pair_ex.start(group, {p.intent.intent_id: p for p in paired[group.group_id]},
                              rebalance_id, attempt=attempt)
        in_pairs = {p.intent.intent_id for ps in paired.values() for p in ps}
        for plan in work:
            if plan.intent.intent_id in in_pairs:
                continue
            inst = instruments.get(plan.symbol) if instruments and plan.symbol in instruments else None
            ex = SliceExecutor(
                manager, clock, plan, rebalance_id=rebalance_id, attempt=attempt,
                market_data=market_data, instrument=inst,
            )
            parents.append(ex)
            ex.start()
        flush()
        hook("after_submit")
        started = clock.now()
        total = len(parents) + len(groups)
        while True:
            killed()
            manager.poll()
            for ex in parents:
                ex.step()
            if pair_ex is not None:
                pair_ex.step()
            flush()
            done = sum(1 for ex in parents if ex.done) + sum(
                1 for e in (pair_ex.executions if pair_ex else ()) if e.done
            )
            if on_progress is not None:
                on_progress(done, total)
            if done == total and not manager.live_tickets:
                break
            if (clock.now() - started).total_seconds() >= timeout_seconds:
                for ex in parents:
                    ex.cancel()
                for e in pair_ex.executions if pair_ex else ():
                    e.cancel()
                manager.cancel_all()
                break
            clock.sleep(poll_interval_seconds)
    flush()  # what shutdown's final cancels and polls produced
    hook("after_fills")
    executions = [
        f for f in transport.get_executions(f"{rebalance_id}:")
        if parse_client_order_id(rebalance_id, f.client_order_id) is not None
    ]
    for f in executions:  # earlier runs' fills, and any this run saw only at the end
        if f.exec_id not in journaled:
            jr.record_fill(f)
    fx = getattr(gate, "fx", None)  # notionals in the base currency
    results = tuple(
        execution_result(plan, executions, manager, rebalance_id, clock, instruments, fx) for plan in plans
    )
    return SupervisionReport(
        rebalance_id=rebalance_id,
        attempt=attempt,
        results=results,
        previously_executed={keys[k]: q for k, q in done_before.items() if k in keys},
        cancelled_leftovers=rec.cancelled,
        orders_sent=len(manager.tickets) - len(manager.blocked),
        tickets=tuple(manager.tickets),
        pairs=tuple(pair_ex.results()) if pair_ex else (),
        blocks=tuple(  # under the original intent ids (the gate saw the re-keyed ones)
            replace(b, intent_id=keys.get(b.intent_id, b.intent_id))
            for b in (gate.blocks if gate is not None else ())
        ) + _overfill_blocks(manager, keys),
    )


def _overfill_blocks(manager: OrderManager, keys: Mapping[str, str]) -> tuple[RiskBlock, ...]:
    """One ``broker_overfill`` block per order the broker overfilled (the
    excess was never booked): reported, recorded and alerted like a block."""
    out: list[RiskBlock] = []
    for err in manager.protocol_errors:
        if err.rule != OVERFILL:
            continue
        ticket = manager.ticket(err.client_order_id)
        iid = ticket.plan.intent.intent_id
        out.append(RiskBlock(OVERFILL_CONTROL, ticket.symbol, keys.get(iid, iid), str(err)))
    return tuple(out)


def _pair_route(
    rebalance_id: str, pairs: Sequence[PairGroup], work: Sequence[OrderPlan]
) -> tuple[dict[str, list[OrderPlan]], list[PairGroup]]:
    """Which residual plans go out as protected pairs, and their re-keyed groups."""
    by_key = {p.intent.intent_id: p for p in work}
    paired: dict[str, list[OrderPlan]] = {}
    groups: list[PairGroup] = []
    for group in pairs:
        keys = [intent_key(rebalance_id, leg.intent_id) for leg in group.legs]
        plans = [by_key.get(k) for k in keys]
        if any(p is None or p.slices is not None for p in plans):
            continue  # a leg is done or sliced: its remaining legs trade as plain orders
        legs = tuple(p.intent for p in plans if p is not None)
        gid = intent_key(rebalance_id, group.group_id)
        groups.append(replace(group, group_id=gid, legs=legs))
        paired[gid] = [p for p in plans if p is not None]
    return paired, groups
