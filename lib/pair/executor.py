"""PairExecutor: starts pair groups on a shared OrderManager and drives them.

Step API (several pairs, sliced parents and ordinary orders share one loop)::

    ex = PairExecutor(manager, clock, config, policy, market_data)
    ex.start(group, plans, rebalance_id)      # legs submitted at the same instant
    while not ex.done:                        # or run_pairs(...) / ex.run()
        clock.sleep(manager.poll_interval_seconds)
        manager.poll()
        ex.step()                             # + SliceExecutor.step() etc.

:meth:`PairExecutor.execute` is start + run for one group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.orders.manager import OrderManager
from lib.pair.execution import HedgePlanFactory, PairExecution
from lib.pair.legging import FillPcts, detect_legging
from lib.pair.model import PairEvent, PairMode, PairResult, PairSettings
from lib.pair.sliced import SlicedPairExecution, is_sliced
from lib.policy import ExecutionPolicy
from lib.types import MarketDataSnapshot, OrderIntent, OrderPlan, PairGroup

__all__ = ["PairExecutor", "run_pairs"]


class PairExecutor:
    """Legging protection for pair groups (see lib/pair/execution.py for the policy).

    market_data(symbol) gives fresh snapshots for hedge plans and passive-first
    prices. on_event(PairEvent) receives every pair event (alerting hooks in
    here: ESCALATED and HEDGE_FAILED are the ones that page).
    """

    def __init__(
        self,
        manager: OrderManager,
        clock: Clock,
        config: ExecutionConfig,
        policy: ExecutionPolicy,
        market_data: Callable[[str], MarketDataSnapshot],
        *,
        mode: PairMode = PairMode.CONCURRENT,
        on_event: Callable[[PairEvent], None] | None = None,
        settings: PairSettings | None = None,
    ) -> None:
        self.settings = settings if settings is not None else PairSettings()
        if self.settings.rebalance_tolerance_pct >= config.pair_min_hedge_trigger_fill_pct:
            raise ValueError(
                f"rebalance_tolerance_pct ({self.settings.rebalance_tolerance_pct}) must be below "
                f"pair_min_hedge_trigger_fill_pct ({config.pair_min_hedge_trigger_fill_pct})"
            )
        self.manager = manager
        self.clock = clock
        self.config = config
        self.policy = policy
        self.mode = mode
        self._market_data = market_data
        self._on_event = on_event
        self.executions: list[PairExecution | SlicedPairExecution] = []
        self.events: list[PairEvent] = []

    def detect_legging(self, fill_pcts: FillPcts) -> bool:
        """The seed rule at ``pair_min_hedge_trigger_fill_pct``."""
        return detect_legging(fill_pcts, self.config.pair_min_hedge_trigger_fill_pct)

    def default_hedge_plan(self, intent: OrderIntent, snapshot: MarketDataSnapshot) -> OrderPlan:
        """A marketable-limit plan from the policy (the intent asks for that mode)."""
        return self.policy.create_plan(intent, snapshot)

    # ------------------------------------------------------------------ step API
    def start(
        self,
        group: PairGroup,
        plans: Mapping[str, OrderPlan],
        rebalance_id: str,
        *,
        attempt: int = 0,
        hedge_plan_factory: HedgePlanFactory | None = None,
    ) -> PairExecution | SlicedPairExecution:
        """Validate and submit every leg of ``group`` now; returns its handle.
        ``plans`` maps each leg's intent_id to its plan. Raises RiskBlocked
        (nothing left working) when a leg has no or a mismatched plan. Sliced
        legs go out in lockstep rounds of child pairs (:mod:`lib.pair.sliced`)."""
        kind = SlicedPairExecution if is_sliced(plans) else PairExecution
        execution = kind(
            group,
            plans,
            rebalance_id,
            manager=self.manager,
            clock=self.clock,
            config=self.config,
            policy=self.policy,
            market_data=self._market_data,
            hedge_plan_factory=hedge_plan_factory or self.default_hedge_plan,
            mode=self.mode,
            settings=self.settings,
            emit=self._emit,
            attempt=attempt,
        )
        execution.start()
        self.executions.append(execution)
        return execution

    def step(self) -> None:
        """One cycle for every started pair (call after ``manager.poll()``)."""
        for execution in self.executions:
            execution.step()

    @property
    def done(self) -> bool:
        return all(e.done for e in self.executions)

    def results(self) -> list[PairResult]:
        return [e.result() for e in self.executions]

    # ------------------------------------------------------------------ convenience
    def run(self, timeout_seconds: float | None = None) -> list[PairResult]:
        """Drive every started pair to completion (see :func:`run_pairs`)."""
        run_pairs(
            self.manager,
            self.clock,
            self.executions,
            timeout_seconds=timeout_seconds,
            grace_cycles=self.settings.timeout_grace_cycles,
        )
        return self.results()

    def execute(
        self,
        group: PairGroup,
        plans: Mapping[str, OrderPlan],
        rebalance_id: str,
        *,
        attempt: int = 0,
        hedge_plan_factory: HedgePlanFactory | None = None,
        timeout_seconds: float | None = None,
    ) -> PairResult:
        """Start one group and supervise it to completion."""
        execution = self.start(
            group, plans, rebalance_id, attempt=attempt, hedge_plan_factory=hedge_plan_factory
        )
        run_pairs(
            self.manager,
            self.clock,
            [execution],
            timeout_seconds=timeout_seconds,
            grace_cycles=self.settings.timeout_grace_cycles,
        )
        return execution.result()

    def _emit(self, event: PairEvent) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)


def run_pairs(
    manager: OrderManager,
    clock: Clock,
    executions: Sequence[PairExecution | SlicedPairExecution],
    *,
    timeout_seconds: float | None = None,
    grace_cycles: int = 30,
) -> None:
    """Poll + step + ``clock.sleep(poll_interval)`` until every pair is done.

    On timeout (clock seconds) the pairs' live legs are cancelled and the loop
    goes on for at most ``grace_cycles`` polls so cancels are confirmed and
    hedges unwound; whatever is still open after that shows in the results.
    """
    start = clock.now()
    deadline_hit = False
    grace_left = grace_cycles
    while not all(e.done for e in executions):
        elapsed = (clock.now() - start).total_seconds()
        if not deadline_hit and timeout_seconds is not None and elapsed >= timeout_seconds - 1e-6:
            deadline_hit = True
            for execution in executions:
                execution.cancel()
        if deadline_hit:
            if grace_left <= 0:
                return
            grace_left -= 1
        clock.sleep(manager.poll_interval_seconds)
        manager.poll()
        for execution in executions:
            execution.step()
