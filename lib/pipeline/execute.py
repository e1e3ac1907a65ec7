"""Sending and accounting: supervised execution of the plans, then the
allocation of what executed back to the sleeves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lib.basket import BasketExecutor, NettingResult, SleeveAllocation
from lib.clock import SystemClock
from lib.errors import MarketDataRejected
from lib.order_risk import SupervisionGate, ThrottledKillSwitch
from lib.orders.requests import ladder_repricer
from lib.orders.states import OrderState, can_transition, state_from_broker
from lib.pipeline.money import fx_table
from lib.policy import ExecutionPolicy
from lib.reconcile import intent_key
from lib.risk import AnyKillSwitch, FileKillSwitch, KillSwitch
from lib.runtime import Runtime
from lib.sampling import ClockSampler, SampleRecorder, tape_volume
from lib.store import AllocationRecord
from lib.story import StoryJournal, StoryLog
from lib.supervisor import SupervisionReport, supervise
from lib.types import MarketDataSnapshot, OrderIntent, OrderPlan, PairGroup
from lib.varpaths import var_path

__all__ = ["KILL_SWITCH_POLL_SECONDS", "KILL_SWITCH_WALL_SECONDS", "AllocationReport", "allocate", "execute",
           "settle_ledger_orders"]

#: How often (clock seconds) supervision asks the orchestrator's kill switch
#: (a Prefect API call) on the simulator, whose virtual seconds pass in
#: milliseconds of wall time: 5 virtual s is well under a wall second, and
#: asking every 1-s virtual poll would add one API call per poll.
KILL_SWITCH_POLL_SECONDS = 5.0
#: With --broker ibkr: at most once per wall second, i.e. every poll on a real
#: broker (1-s polls). The settings' file switch is asked every poll always.
KILL_SWITCH_WALL_SECONDS = 1.0


def execute(
    rt: Runtime,
    plans: Sequence[OrderPlan],
    pairs: Sequence[PairGroup] = (),
    *,
    on_progress: Callable[[int, int], None] | None = None,
    checkpoint: Callable[[str], None] | None = None,
    kill_switch: KillSwitch | None = None,
    log: StoryLog | None = None,
) -> SupervisionReport:
    """Reconcile with the broker, then supervise every plan's residual to a
    terminal state (write-ahead to the ledger, fills committed as they come).

    Every order sent passes the risk gate (children, hedges, replaces); the
    settings' kill-switch file is polled every cycle, ``kill_switch`` (the
    orchestrator's, an API call) once per wall second with IBKR (every poll)
    and every KILL_SWITCH_POLL_SECONDS of virtual time on the simulator;
    the gate's blocks are recorded in the ledger and returned in the report.
    ``log``: every order sent, replaced, cancelled, filled or rejected is told
    there as it is journaled (lib.story; the Prefect task passes its run logger)."""
    policy = ExecutionPolicy(rt.settings.execution, rt.registry, rt.clock)

    def repricer(plan: OrderPlan, attempt: int, snap: MarketDataSnapshot | None) -> float:
        # Re-base on the current touch when the quote is good; the static
        # ladder otherwise. Both stay inside the plan's collar.
        if snap is not None and plan.reprice_ladder:
            try:
                return policy.reprice(plan, attempt, snap)
            except MarketDataRejected:
                pass
        return ladder_repricer(plan, attempt, snap)

    recorder = SampleRecorder(rt.broker.get_market_data, lambda s: tape_volume(rt.broker, s))
    tape = ClockSampler(rt.broker.get_market_data, [p.symbol for p in plans],
                        volume=lambda s: tape_volume(rt.broker, s))
    tape.attach(rt.clock)
    try:
        report = _supervise(rt, plans, pairs, policy, repricer, recorder, on_progress, checkpoint,
                            kill_switch, log)
    finally:
        tape.detach()
    for b in report.blocks:
        rt.ledger.record_risk_block(rt.rebalance_id, b.control, b.detail, b.symbol,
                                    intent_id=b.intent_id)
    settle_ledger_orders(rt)
    rt.ledger.record_broker_ids(
        {t.client_order_id: (t.broker_order_id, t.submitted_at) for t in report.tickets}
    )
    rt.ledger.record_samples(rt.rebalance_id, [*recorder.samples, *tape.samples])
    return report


def _supervise(
    rt: Runtime,
    plans: Sequence[OrderPlan],
    pairs: Sequence[PairGroup],
    policy: ExecutionPolicy,
    repricer: Callable[[OrderPlan, int, MarketDataSnapshot | None], float],
    recorder: SampleRecorder,
    on_progress: Callable[[int, int], None] | None,
    checkpoint: Callable[[str], None] | None,
    kill_switch: KillSwitch | None = None,
    log: StoryLog | None = None,
) -> SupervisionReport:
    switches: list[KillSwitch] = []
    if rt.settings.risk.kill_switch_file:
        switches.append(FileKillSwitch(var_path(rt.settings.risk.kill_switch_file)))
    if kill_switch is not None:
        if rt.params.broker == "ibkr":
            # A person engages it in wall time: ask once per wall second, which
            # is every 1-s poll on a real broker (and does not flood the API
            # when the simulated gateway runs an accelerated virtual session).
            switches.append(ThrottledKillSwitch(kill_switch, SystemClock(), KILL_SWITCH_WALL_SECONDS))
        else:
            switches.append(ThrottledKillSwitch(kill_switch, rt.clock, KILL_SWITCH_POLL_SECONDS))
    gate = SupervisionGate(
        rt.settings.risk, rt.settings.execution, rt.registry, fx=fx_table(rt), base_plans=plans,
        key=lambda intent_id: intent_key(rt.rebalance_id, intent_id),
    )
    prior = max((o.attempt for o in rt.ledger.orders_for_rebalance(rt.rebalance_id)), default=-1)
    return supervise(
        plans,
        transport=rt.broker,
        clock=rt.clock,
        config=rt.settings.execution,
        rebalance_id=rt.rebalance_id,
        journal=StoryJournal(rt.ledger, log) if log is not None else rt.ledger,
        repricer=repricer,
        market_data=recorder,
        instruments=rt.registry,
        prior_attempt=prior,
        pairs=pairs,
        policy=policy,
        on_progress=on_progress,
        checkpoint=checkpoint,
        gate=gate,
        kill_switch=AnyKillSwitch(*switches),
        max_messages_per_second=rt.settings.risk.max_messages_per_second,
    )


def settle_ledger_orders(rt: Runtime) -> int:
    """Bring the ledger's open orders of this rebalance to what the broker says.

    Orders of a crashed earlier run stay non-terminal in the ledger (their last
    known state) until someone asks the broker; this does, after supervision:
    a terminal broker status becomes the ledger status, and an order the
    broker never received (a crash between the write-ahead commit and the
    send) becomes FAILED. Returns how many orders changed.
    """
    open_orders = rt.ledger.open_orders_for_rebalance(rt.rebalance_id)
    if not open_orders:
        return 0
    statuses = rt.broker.get_order_statuses([o.client_order_id for o in open_orders])
    now = rt.clock.now()
    changed = 0
    for order in open_orders:
        current = OrderState(order.status)
        update = statuses.get(order.client_order_id)
        if update is None:
            target, detail = OrderState.FAILED, "reconciled: the broker never received this order"
        elif update.is_terminal:
            target = state_from_broker(
                update.status, current, filled_quantity=update.filled_quantity,
                quantity=update.quantity,
            )
            detail = f"reconciled with broker status {update.status.value}"
        else:
            continue  # still working: supervise cancels leftovers, so this is rare
        if target is not current and can_transition(current, target):
            rt.ledger.record_order_event(order.client_order_id, current.value, target.value, now,
                                         detail, kind="reconciled")
            changed += 1
    return changed


@dataclass(frozen=True, slots=True)
class AllocationReport:
    """What each sleeve got. direct: pair legs (not netted), one per intent."""

    netted: tuple[SleeveAllocation, ...]
    direct: Mapping[str, tuple[int, float | None]]


def allocate(
    rt: Runtime,
    netting: NettingResult,
    direct_intents: Sequence[OrderIntent],
    report: SupervisionReport,
    reference_prices: Mapping[str, float],
) -> AllocationReport:
    """Give each sleeve its share (internal cross at the arrival mid, market
    fills pro rata) and move the sleeve books in the ledger."""
    by_intent = {r.intent_id: r for r in report.results}
    executions: dict[str, tuple[int, float | None]] = {}
    mids = dict(reference_prices)
    for net in netting.net_intents:
        r = by_intent.get(net.intent_id)
        if r is not None:
            executions[net.symbol] = (r.filled_quantity, r.avg_price)
            mids[net.symbol] = r.arrival_mid
    allocations = BasketExecutor(rt.settings.execution, rt.registry).allocate(
        netting, executions, mids
    )
    records: list[AllocationRecord] = []
    for a in allocations:
        sign = a.side.sign
        if a.crossed_qty:
            records.append(AllocationRecord(
                a.sleeve, a.symbol, sign * a.crossed_qty, float(a.crossed_price or mids[a.symbol]),
                "internal_cross",
            ))
        if a.executed_qty:
            records.append(AllocationRecord(
                a.sleeve, a.symbol, sign * a.executed_qty, float(a.executed_price or 0.0), "execution",
            ))
    direct: dict[str, tuple[int, float | None]] = {}
    for intent in direct_intents:
        r = by_intent.get(intent.intent_id)
        filled, price = (r.filled_quantity, r.avg_price) if r else (0, None)
        direct[intent.intent_id] = (filled, price)
        if filled and intent.sleeve and price is not None:
            records.append(AllocationRecord(
                intent.sleeve, intent.symbol, intent.side.sign * filled, price, "pair_leg",
                intent.intent_id,
            ))
    rt.ledger.record_allocation(rt.rebalance_id, records)
    return AllocationReport(tuple(allocations), direct)
