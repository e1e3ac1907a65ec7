"""One pair leg: its plan, order ticket and the prices legging protection uses.

Prices (per unit, on the instrument's tick grid, always inside the leg plan's
collar - the OrderManager refuses anything else):

- collar edge: the aggressive end of the plan's collar (BUY ``collar_high``,
  SELL ``collar_low``), where a lagging leg is sent;
- near touch: BUY at the bid, SELL at the ask (PASSIVE_FIRST resting price);
- touch: BUY at the ask, SELL at the bid (where a passive leg switches to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from lib.errors import RiskBlocked
from lib.instruments import InstrumentRegistry
from lib.orders.manager import make_client_order_id, order_type_for
from lib.orders.states import TERMINAL
from lib.pair import legging
from lib.pair.model import LegResult
from lib.slippage import CollarEnforcer
from lib.types import Instrument, OrderIntent, OrderPlan, OrderTicket, OrderType, PairGroup, Side

__all__ = ["PairLeg", "build_legs"]

_EPS = 1e-9


@dataclass(slots=True)
class PairLeg:
    """Mutable tracking of one leg (owned by its PairExecution)."""

    intent: OrderIntent
    plan: OrderPlan
    client_order_id: str
    instrument: Instrument
    ticket: OrderTicket | None = None
    passive: bool = False  # resting at the near touch (PASSIVE_FIRST window)
    pinned: bool = False  # sent to its collar edge; the ladder no longer moves it
    capped: bool = False  # its remainder was cancelled by a finished leg's cap

    @property
    def live(self) -> bool:
        return self.ticket is not None and self.ticket.state not in TERMINAL

    @property
    def pct(self) -> float:
        """Fill fraction of the leg's quantity."""
        filled = self.ticket.filled_quantity if self.ticket is not None else 0
        return legging.fill_pct(filled, self.plan.quantity)

    @property
    def is_limit(self) -> bool:
        return order_type_for(self.plan) is OrderType.LMT and self.plan.limit_price is not None

    @property
    def edge(self) -> float:
        return self.plan.collar_high if self.plan.side is Side.BUY else self.plan.collar_low

    def fill(self) -> legging.LegFill:
        """Progress marked at the plan's arrival mid."""
        filled = self.ticket.filled_quantity if self.ticket is not None else 0
        return legging.LegFill(
            self.plan.side,
            self.plan.quantity,
            filled,
            self.plan.arrival_mid,
            self.instrument.multiplier,
        )

    def passive_plan(self, bid: float, ask: float, collars: CollarEnforcer) -> OrderPlan:
        """The plan re-priced at the near touch (clamped into its collar) and
        marks the leg passive - or the plan unchanged when that would not be
        more passive than its own limit (or it is not a limit order)."""
        plan = self.plan
        if not self.is_limit or plan.limit_price is None:
            return plan
        inst = self.instrument
        near = inst.floor_to_tick(bid) if plan.side is Side.BUY else inst.ceil_to_tick(ask)
        near = collars.clamp(inst, plan.side, near, plan.collar_low, plan.collar_high)
        if plan.side.sign * (plan.limit_price - near) <= _EPS:
            return plan
        self.passive = True
        return replace(plan, limit_price=near)

    def touch(self, bid: float, ask: float, collars: CollarEnforcer) -> float:
        """The marketable price now, clamped into the plan's collar."""
        plan, inst = self.plan, self.instrument
        price = inst.ceil_to_tick(ask) if plan.side is Side.BUY else inst.floor_to_tick(bid)
        return collars.clamp(inst, plan.side, price, plan.collar_low, plan.collar_high)

    def rungs_covered(self, price: float) -> int:
        """Ladder rungs no more aggressive than ``price`` (the ladder resumes
        after them, so it never steps back)."""
        sign = self.plan.side.sign
        return sum(1 for r in self.plan.reprice_ladder if sign * (r - price) <= _EPS)

    def result(self) -> LegResult:
        t = self.ticket
        filled = t.filled_quantity if t is not None else 0
        return LegResult(
            intent_id=self.intent.intent_id,
            client_order_id=self.client_order_id,
            symbol=self.intent.symbol,
            side=self.intent.side,
            quantity=self.plan.quantity,
            filled_quantity=filled,
            avg_fill_price=t.avg_fill_price if t is not None and filled else None,
            state=t.state if t is not None else "NOT_SENT",
            repriced_to_edge=self.pinned,
            fills=tuple(t.fills) if t is not None else (),
        )


def leg_plans(group: PairGroup, plans: Mapping[str, OrderPlan]) -> dict[str, OrderPlan]:
    """Each leg's plan by intent id, or RiskBlocked: a leg without a plan, or a
    plan that does not match its leg (symbol, side, quantity)."""
    out: dict[str, OrderPlan] = {}
    for intent in group.legs:
        plan = plans.get(intent.intent_id)
        if plan is None:
            raise RiskBlocked("pair", f"{group.group_id}: no plan for leg {intent.intent_id}")
        pi = plan.intent
        if (pi.symbol, pi.side, pi.quantity) != (intent.symbol, intent.side, intent.quantity):
            raise RiskBlocked("pair", f"{group.group_id}: plan for {intent.intent_id} does not match the leg")
        out[intent.intent_id] = plan
    return out


def build_legs(
    group: PairGroup,
    plans: Mapping[str, OrderPlan],
    instruments: InstrumentRegistry,
    rebalance_id: str,
    attempt: int,
    slice_index: int = 0,
) -> list[PairLeg]:
    """One PairLeg per leg of ``group``, or RiskBlocked: a leg without a plan,
    a plan that does not match its leg (symbol, side, quantity), a sliced plan
    (here a leg is one order; sliced legs go through
    :class:`lib.pair.sliced.SlicedPairExecution`, one round of children at a time,
    ``slice_index`` = the round), duplicate intent ids."""
    gid = group.group_id
    legs: list[PairLeg] = []
    matched = leg_plans(group, plans)
    for intent in group.legs:
        plan = matched[intent.intent_id]
        if plan.slices is not None and plan.slices.n_slices > 1:
            raise RiskBlocked(
                "pair", f"{gid}: leg {intent.intent_id} is sliced; pair legs go out as one order"
            )
        coid = make_client_order_id(rebalance_id, intent.intent_id, slice_index, attempt)
        legs.append(PairLeg(intent, plan, coid, instruments[intent.symbol]))
    if len({leg.intent.intent_id for leg in legs}) != len(legs):
        raise RiskBlocked("pair", f"{gid}: duplicate leg intent ids")
    return legs
