"""Pre-trade risk on every order that reaches the broker, during supervision.

The rebalance's intents and plans are checked before supervision starts
(:mod:`lib.risk`); this gate checks what supervision itself sends: slice
children (rolled-over leftovers included), pair legs, temporary hedges and
their unwinds, and every replace. It implements
:class:`lib.orders.gate.OrderGate` for the OrderManager:

- ``kill_switch``: once :meth:`SupervisionGate.halt` is called (supervision
  polls the kill switch every cycle), every submit and modify is refused;
- ``price_band``: for the rebalance's own intents (children, legs), a
  submit's limit, collar and ladder and a modify's price must lie inside that
  intent's planned collar, which :meth:`lib.risk.PreTradeRisk.check_plan`
  checked against the band when the plan was made (on a rerun the plan keeps
  the first run's arrival mid for slippage, but is priced off today's quotes,
  so the collar is the band of record); for other orders (hedges, unwinds)
  the band around their arrival mid, as ``check_plan``; a market order while
  ``allow_market_orders`` is off is refused;
- ``max_order_notional``: the order's notional, base currency;
- ``max_gross_notional``: orders for intents outside the rebalance's own
  (hedges, unwinds) add their notional to the rebalance's gross (the largest
  submitted per such intent), which must stay within ``max_gross_notional_usd``;
- ``fx_rate``: an order in a currency without a usable rate is refused.

Every refusal is a :class:`lib.risk.RiskBlock` in :attr:`SupervisionGate.blocks`
(one per control and intent), recorded in the ledger and alerted by the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from lib.clock import Clock
from lib.config import ExecutionConfig, RiskConfig
from lib.errors import UnknownInstrument
from lib.fx import FxTable
from lib.instruments import InstrumentRegistry
from lib.risk import Control, KillSwitch, PreTradeRisk, RiskBlock, StaticKillSwitch, base_rate
from lib.types import OrderPlan, OrderType, PolicyMode

__all__ = ["KillSwitchGate", "SupervisionGate", "ThrottledKillSwitch"]

_EPS = 1e-9


class ThrottledKillSwitch:
    """Asks ``inner`` at most once per ``every_seconds`` of ``clock`` time and
    remembers an engagement (for switches that cost an API call, e.g. the
    Prefect Variable; the file switch is cheap and asked every poll)."""

    def __init__(self, inner: KillSwitch, clock: Clock, every_seconds: float) -> None:
        self.inner = inner
        self.clock = clock
        self.every_seconds = every_seconds
        self._last: float | None = None
        self._state: tuple[bool, str] = (False, "")

    def is_engaged(self) -> tuple[bool, str]:
        now = self.clock.now().timestamp()
        if not self._state[0] and (self._last is None or now - self._last >= self.every_seconds):
            self._last = now
            self._state = self.inner.is_engaged()
        return self._state


class KillSwitchGate:
    """The minimal gate: refuses every submit and modify once halted."""

    def __init__(self) -> None:
        self.halted: str | None = None
        self.blocks: list[RiskBlock] = []
        self._seen: set[tuple[str, str]] = set()

    def halt(self, reason: str, intents: Iterable[OrderPlan] = ()) -> None:
        """Refuse everything from now on (the kill switch), blocking ``intents``."""
        self.halted = reason
        for plan in intents:
            self._block(Control.KILL_SWITCH, plan, f"kill switch engaged: {reason}")

    def check_submit(self, plan: OrderPlan, client_order_id: str) -> str | None:
        if self.halted is not None:
            return self._block(Control.KILL_SWITCH, plan, f"kill switch engaged: {self.halted}")
        return None

    def check_modify(self, plan: OrderPlan, price: float, client_order_id: str) -> str | None:
        return self.check_submit(plan, client_order_id)

    def _block(self, control: Control, plan: OrderPlan, detail: str) -> str:
        key = (control.value, plan.intent.intent_id)
        if key not in self._seen:
            self._seen.add(key)
            self.blocks.append(RiskBlock(control, plan.symbol, plan.intent.intent_id, detail))
        return f"{control.value}: {detail}"


class SupervisionGate(KillSwitchGate):
    """The OrderGate of one supervised rebalance.

    ``base_plans``: the rebalance's own plans (their gross was checked before);
    ``base_gross``: that gross, base currency; ``key``: maps a base plan's
    intent id to the one its orders carry (supervision re-keys intents).
    """

    def __init__(
        self,
        risk_config: RiskConfig,
        exec_config: ExecutionConfig,
        registry: InstrumentRegistry,
        *,
        fx: FxTable | None = None,
        base_plans: Iterable[OrderPlan] = (),
        base_gross: float | None = None,
        key: Callable[[str], str] = lambda intent_id: intent_id,
    ) -> None:
        super().__init__()
        self.config = risk_config
        self.exec_config = exec_config
        self.registry = registry
        self.fx = fx
        self._band = PreTradeRisk(risk_config, exec_config, registry, StaticKillSwitch())
        plans = list(base_plans)
        self._collars = {key(p.intent.intent_id): (p.collar_low, p.collar_high) for p in plans}
        self._base_ids = set(self._collars)
        self.base_gross = base_gross if base_gross is not None else sum(
            self._notional(p, p.limit_price)[0] or 0.0 for p in plans
        )
        self._extra: dict[str, float] = {}  # intent id -> largest notional sent

    @property
    def gross(self) -> float:
        """The rebalance's gross so far, base currency (own plans + extra orders)."""
        return self.base_gross + math.fsum(self._extra.values())

    # ------------------------------------------------------------------ OrderGate
    def check_submit(self, plan: OrderPlan, client_order_id: str) -> str | None:
        if self.halted is not None:
            return self._block(Control.KILL_SWITCH, plan, f"kill switch engaged: {self.halted}")
        collar = self._collars.get(plan.intent.intent_id)
        if collar is None:
            report = self._band.check_plan(plan)
            if not report.ok:
                b = report.blocks[0]
                return self._block(Control(b.control), plan, f"{client_order_id}: {b.detail}")
        else:
            outside = self._inside_collar(plan, collar)
            if outside is not None:
                return self._block(Control(outside[0]), plan, f"{client_order_id}: {outside[1]}")
        notional, why = self._notional(plan, plan.limit_price)
        if notional is None:
            return self._block(Control.FX_RATE, plan, why)
        limit = self.config.max_order_notional_usd
        if notional > limit:
            return self._block(
                Control.MAX_ORDER_NOTIONAL, plan,
                f"{client_order_id}: notional ${notional:,.0f} > max_order_notional_usd ${limit:,.0f}",
            )
        iid = plan.intent.intent_id
        if iid not in self._base_ids:
            previous = self._extra.get(iid, 0.0)
            gross = self.gross - previous + max(previous, notional)
            cap = self.config.max_gross_notional_usd
            if gross > cap:
                return self._block(
                    Control.MAX_GROSS_NOTIONAL, plan,
                    f"{client_order_id}: rebalance gross with this order ${gross:,.0f} > "
                    f"max_gross_notional_usd ${cap:,.0f}",
                )
            self._extra[iid] = max(previous, notional)
        return None

    def check_modify(self, plan: OrderPlan, price: float, client_order_id: str) -> str | None:
        if self.halted is not None:
            return self._block(Control.KILL_SWITCH, plan, f"kill switch engaged: {self.halted}")
        collar = self._collars.get(plan.intent.intent_id)
        if collar is not None:
            low, high = collar
        else:
            try:
                inst = self.registry[plan.symbol]
            except UnknownInstrument as exc:
                return self._block(Control.UNKNOWN_INSTRUMENT, plan, str(exc))
            low, high = self._band.price_band(inst, plan.arrival_mid)
        slack = _EPS * plan.arrival_mid
        if not (math.isfinite(price) and low - slack <= price <= high + slack):
            return self._block(
                Control.PRICE_BAND, plan,
                f"{client_order_id}: replace to {price} outside band [{low:.10g}, {high:.10g}] "
                f"(arrival mid {plan.arrival_mid})",
            )
        return None

    # ------------------------------------------------------------------ internals
    def _inside_collar(
        self, plan: OrderPlan, collar: tuple[float, float]
    ) -> tuple[str, str] | None:
        """(control, detail) when a child of a planned intent leaves its collar."""
        market = plan.mode is PolicyMode.MARKET or plan.order_type in (OrderType.MKT, OrderType.MOC)
        if market:
            if not self.exec_config.allow_market_orders:
                return Control.MARKET_ORDER.value, "market order while allow_market_orders is false"
            return None
        low, high = collar
        slack = _EPS * max(abs(high), 1.0)
        prices = [("collar_low", plan.collar_low), ("collar_high", plan.collar_high)]
        if plan.limit_price is not None:
            prices.append(("limit_price", plan.limit_price))
        prices += [(f"reprice_ladder[{k}]", p) for k, p in enumerate(plan.reprice_ladder)]
        outside = [f"{n} {p}" for n, p in prices
                   if not (math.isfinite(p) and low - slack <= p <= high + slack)]
        if outside:
            return Control.PRICE_BAND.value, (
                f"{', '.join(outside)} outside the planned band [{low:.10g}, {high:.10g}]"
            )
        return None

    def _notional(self, plan: OrderPlan, price: float | None) -> tuple[float | None, str]:
        try:
            inst = self.registry[plan.symbol]
        except UnknownInstrument as exc:
            return None, str(exc)
        rate, why = base_rate(self.fx, inst.currency)
        if rate is None:
            return None, why
        ref = price if price is not None and price > 0 else plan.arrival_mid
        return inst.notional(ref, plan.quantity) * rate, ""
