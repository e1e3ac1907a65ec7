"""Value objects of pair execution: mode, tunables, events and the result.

Units: seconds for durations, fractions for fill percentages, notionals in the
legs' quote currencies, notional-seconds for the exposure integral.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from lib.types import Fill, Side

__all__ = [
    "LegResult",
    "PairEvent",
    "PairEventKind",
    "PairMode",
    "PairResult",
    "PairSettings",
]


class PairMode(StrEnum):
    """CONCURRENT: legs go out at their plans' marketable limits at once.
    PASSIVE_FIRST (SIM_SPEC P4): legs first rest at the near touch for
    ``PairSettings.passive_seconds``, then move to the touch and follow their
    plans' ladders. Legging protection applies in both modes throughout."""

    CONCURRENT = "concurrent"
    PASSIVE_FIRST = "passive_first"


class PairSettings(BaseModel):
    """PairExecutor tunables that the seed's config does not cover.

    passive_seconds: PASSIVE_FIRST resting window (s).
    rebalance_tolerance_pct: a legging episode ends when the fill fractions are
      within this of each other (must be below pair_min_hedge_trigger_fill_pct:
      hysteresis, so the hedge does not flap).
    min_hedge_contract_fraction: hedge at least one contract once the excess is
      worth this fraction of a contract (see legging.hedge_quantity).
    max_hedge_failures: consecutive failed hedge attempts (no plan, blocked,
      rejected) before hedging is abandoned for the pair (alerted).
    timeout_grace_cycles: polls allowed after a timeout to confirm cancels and
      unwind the hedge.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    passive_seconds: Annotated[float, Field(gt=0)] = 10.0
    rebalance_tolerance_pct: Annotated[float, Field(ge=0, lt=1)] = 0.05
    min_hedge_contract_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    max_hedge_failures: Annotated[int, Field(ge=0)] = 3
    timeout_grace_cycles: Annotated[int, Field(ge=1)] = 30


class PairEventKind(StrEnum):
    STARTED = "started"  # legs submitted
    LEGGED = "legged"  # a legging episode began
    REPRICED = "repriced"  # a lagging leg sent to its collar edge
    HEDGE_SENT = "hedge_sent"  # a hedge order (deploy, resize or unwind)
    HEDGE_FAILED = "hedge_failed"  # a hedge attempt failed, or hedging abandoned
    ESCALATED = "escalated"  # legged past pair_max_legging_seconds: leaders cancelled
    CAPPED = "capped"  # a live leg caught up with a finished leg: its rest cancelled
    REBALANCED = "rebalanced"  # the legging episode ended
    PASSIVE_SWITCH = "passive_switch"  # PASSIVE_FIRST window over: leg moved to the touch
    COMPLETED = "completed"  # every leg and hedge order terminal


@dataclass(frozen=True, slots=True)
class PairEvent:
    """One thing the PairExecutor decided or observed. ``details`` carries
    numbers for the alerting layer (fill fractions, notionals, ids)."""

    ts: datetime
    group_id: str
    kind: PairEventKind
    detail: str = ""
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LegResult:
    """One leg's outcome. fill_pct is a fraction; avg_fill_price None if unfilled."""

    intent_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: int
    filled_quantity: int
    avg_fill_price: float | None
    state: str
    repriced_to_edge: bool
    fills: tuple[Fill, ...]

    @property
    def fill_pct(self) -> float:
        return self.filled_quantity / self.quantity if self.quantity else 1.0


@dataclass(frozen=True, slots=True)
class PairResult:
    """Outcome of one pair group.

    max_unhedged_notional: largest |excess + hedge offset| observed (currency).
    unhedged_notional_seconds: its time integral (currency x seconds), each
      observation held until the next poll.
    final_unhedged_notional: what is left at the end (a residual imbalance when
      a leg finished short; alerted as an escalation or visible here).
    hedge_position: contracts still held at the end (0 unless unwinding failed).
    max_legging_seconds: longest legging episode.
    """

    group_id: str
    completed: bool
    started_at: datetime
    finished_at: datetime | None
    legs: tuple[LegResult, ...]
    max_unhedged_notional: float
    unhedged_notional_seconds: float
    final_unhedged_notional: float
    hedge_symbol: str | None
    hedge_orders_sent: int
    hedge_filled_quantity: int
    hedge_position: int
    legging_episodes: int
    escalations: int
    max_legging_seconds: float
    events: tuple[PairEvent, ...]

    @property
    def fill_pcts(self) -> dict[str, float]:
        return {leg.intent_id: leg.fill_pct for leg in self.legs}
