"""Pre-trade risk controls, in the spirit of SEC Rule 15c3-5 (market access).

Every order is checked before it can reach a broker; a failed control blocks
the order and says why (a :class:`RiskBlock`), nothing is silently dropped:
``approved + blocked`` is always every intent checked.

Controls (:class:`Control`):

- ``kill_switch``: while a :class:`KillSwitch` is engaged every intent and
  every plan is blocked, with the switch's reason.
- ``duplicate_intent``: the same ``intent_id`` twice, or the same
  sleeve+symbol+side twice, in one rebalance. ALL copies are blocked: we
  cannot tell which one is meant, and a duplicate is the classic runaway.
- ``unknown_instrument`` / ``reference_price``: no registry entry, or no
  finite positive price to value the order (fail closed).
- ``max_order_notional``: ``|qty| * price * multiplier`` above
  ``max_order_notional_usd`` (fat-finger limit).
- ``max_adv_fraction``: ``qty / ADV`` above ``max_adv_fraction``. ADV comes
  from the ``adv`` argument, else the instrument's static profile.
- ``max_gross_notional``: the sum of every intent's notional above
  ``max_gross_notional_usd`` blocks the WHOLE rebalance. Why not trim it: a
  rebalance is sized as a whole (hedges, pairs, funding legs); executing an
  arbitrary part of a too-large one leaves the book in a state nobody chose,
  and a size that large usually means a sizing bug upstream (wrong NAV,
  units), which makes every order of it suspect.
- ``price_band`` (plans): the limit, the collar and every reprice-ladder price
  must lie in ``[arrival_mid * (1 - cap), arrival_mid * (1 + cap)]`` with
  ``cap = ExecutionConfig.slippage_cap_bps(asset_class) / 1e4``, the same collar
  the policy prices with. With a parent risk budget (``collar_budget_k`` > 0,
  limit plans but auctions) the band follows the budget
  (:func:`lib.parent_budget.band_half_width_bps`, the instrument profile's
  sigma): the limit and the ladder must lie in the band at arrival (``cap + k
  * sigma * sqrt(TTL / session)``); the collar of an unsliced plan in that band
  too; the collar of a sliced plan in the hard emergency band
  (``emergency_band_bps``), which no child may leave (each child's own band,
  that of its release time, lies inside it). The band is exact (no tick
  rounding outward): the policy must round its collar inward. MARKET plans have
  no limit, so only their collar fields are checked.
- ``market_order`` (plans): a MARKET plan while ``allow_market_orders`` is off.
- ``fx_rate``: no usable (known, fresh) FX rate for the instrument's currency:
  the order cannot be valued in the base currency, so it is blocked.
- ``max_gross_nav``: gross notional above ``max_gross_nav_fraction`` x NAV
  blocks the whole rebalance (a sizing bug upstream, e.g. a wrong NAV).
- ``buying_power``: gross notional above the broker's buying power, where the
  broker reports one, blocks the whole rebalance.

Units: every notional and limit in the base currency (USD): an instrument's
notional ``|qty| * price * multiplier`` is in its own currency and converted
with :class:`lib.fx.FxTable` (FESX in EUR is never added to ES in USD
unconverted); without an FxTable (unit tests) currencies other than USD are
blocked by ``fx_rate``. ADV in shares/contracts per day; fractions as fractions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from lib.config import ExecutionConfig, RiskConfig
from lib.errors import FxUnavailable, RiskBlocked, UnknownInstrument
from lib.fx import BASE_CURRENCY, FxTable
from lib.instruments import InstrumentRegistry
from lib.kill_switch import AnyKillSwitch, FileKillSwitch, KillSwitch, StaticKillSwitch
from lib.parent_budget import band_half_width_bps
from lib.types import Instrument, OrderIntent, OrderPlan, OrderType, PolicyMode, Side

__all__ = [
    "AnyKillSwitch",
    "Control",
    "FileKillSwitch",
    "KillSwitch",
    "PreTradeRisk",
    "RiskBlock",
    "RiskConfig",
    "RiskReport",
    "StaticKillSwitch",
    "base_rate",
]

_BAND_EPS = 1e-9  # relative slack for float noise at the band edges


class Control(StrEnum):
    KILL_SWITCH = "kill_switch"
    DUPLICATE_INTENT = "duplicate_intent"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    REFERENCE_PRICE = "reference_price"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_ADV_FRACTION = "max_adv_fraction"
    MAX_GROSS_NOTIONAL = "max_gross_notional"
    PRICE_BAND = "price_band"
    MARKET_ORDER = "market_order"
    FX_RATE = "fx_rate"
    MAX_GROSS_NAV = "max_gross_nav"
    BUYING_POWER = "buying_power"


@dataclass(frozen=True, slots=True)
class RiskBlock:
    """One control that blocked one intent, and why (with the numbers)."""

    control: str
    symbol: str
    intent_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class RiskReport:
    """Outcome of a check. ``approved`` and ``blocked`` partition the intents
    checked (input order kept); ``blocks`` has at least one entry per blocked
    intent (several when several controls failed)."""

    approved: tuple[OrderIntent, ...]
    blocked: tuple[OrderIntent, ...]
    blocks: tuple[RiskBlock, ...]
    gross_notional_usd: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.blocks

    def blocks_for(self, intent_id: str) -> tuple[RiskBlock, ...]:
        return tuple(b for b in self.blocks if b.intent_id == intent_id)

    def raise_if_blocked(self) -> None:
        """Raise :class:`RiskBlocked` naming the first block (and the count)."""
        if self.blocks:
            first = self.blocks[0]
            more = f" (+{len(self.blocks) - 1} more block(s))" if len(self.blocks) > 1 else ""
            raise RiskBlocked(first.control, f"{first.intent_id}: {first.detail}{more}")


def base_rate(fx: FxTable | None, currency: str) -> tuple[float | None, str]:
    """``(rate, "")`` to the base currency, or ``(None, reason)`` (no FxTable:
    only the base currency itself can be valued)."""
    if currency == BASE_CURRENCY:
        return 1.0, ""
    if fx is None:
        return None, str(FxUnavailable(currency, BASE_CURRENCY, "no FX source configured"))
    return fx.try_rate(currency)


def _valid_price(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


class PreTradeRisk:
    """Runs the controls. Stateless between calls apart from the kill switch."""

    def __init__(
        self,
        risk_config: RiskConfig,
        exec_config: ExecutionConfig,
        registry: InstrumentRegistry,
        kill_switch: KillSwitch,
    ) -> None:
        self.config = risk_config
        self.exec_config = exec_config
        self.registry = registry
        self.kill_switch = kill_switch

    # ------------------------------------------------------------------ intents

    def check_intents(
        self,
        intents: Sequence[OrderIntent],
        prices: Mapping[str, float],
        adv: Mapping[str, float],
        *,
        fx: FxTable | None = None,
        nav: float | None = None,
        buying_power: float | None = None,
    ) -> RiskReport:
        """Check one rebalance's intents.

        prices: symbol -> reference price (quote currency per unit) used for
        notional; adv: symbol -> average daily volume (shares/contracts);
        fx: converts notionals to the base currency; nav / buying_power: the
        account's, base currency (None: not known, that control is skipped).
        """
        engaged, reason = self.kill_switch.is_engaged()
        if engaged:
            blocks = [
                RiskBlock(
                    Control.KILL_SWITCH, i.symbol, i.intent_id, f"kill switch engaged: {reason}"
                )
                for i in intents
            ]
            return RiskReport((), tuple(intents), tuple(blocks))

        by_id = Counter(i.intent_id for i in intents)
        by_key = Counter((i.sleeve, i.symbol, i.side) for i in intents)
        per_intent: list[list[RiskBlock]] = []
        gross = 0.0
        for intent in intents:
            found, notional = self._check_one(intent, by_id, by_key, prices, adv, fx)
            per_intent.append(found)
            gross += notional
        whole: list[tuple[Control, str]] = []
        if gross > self.config.max_gross_notional_usd:
            whole.append((Control.MAX_GROSS_NOTIONAL, (
                f"rebalance gross notional ${gross:,.0f} > max_gross_notional_usd "
                f"${self.config.max_gross_notional_usd:,.0f}: the whole rebalance is blocked"
            )))
        cap = self.config.max_gross_nav_fraction
        if nav is not None and gross > cap * max(nav, 0.0):
            whole.append((Control.MAX_GROSS_NAV, (
                f"rebalance gross notional ${gross:,.0f} > max_gross_nav_fraction {cap:g} x NAV "
                f"${nav:,.0f}: the whole rebalance is blocked"
            )))
        if buying_power is not None and gross > buying_power:
            whole.append((Control.BUYING_POWER, (
                f"rebalance gross notional ${gross:,.0f} > the broker's buying power "
                f"${buying_power:,.0f}: the whole rebalance is blocked"
            )))
        for control, detail in whole:
            for intent, found in zip(intents, per_intent, strict=True):
                found.append(RiskBlock(control, intent.symbol, intent.intent_id, detail))
        approved = tuple(i for i, b in zip(intents, per_intent, strict=True) if not b)
        blocked = tuple(i for i, b in zip(intents, per_intent, strict=True) if b)
        all_blocks = tuple(b for found in per_intent for b in found)
        return RiskReport(approved, blocked, all_blocks, gross)

    def _check_one(
        self,
        intent: OrderIntent,
        by_id: Counter[str],
        by_key: Counter[tuple[str | None, str, Side]],
        prices: Mapping[str, float],
        adv: Mapping[str, float],
        fx: FxTable | None = None,
    ) -> tuple[list[RiskBlock], float]:
        """Per-order controls; returns the blocks and the notional (base
        currency, 0 if it cannot be valued) that counts towards the gross."""
        found: list[RiskBlock] = []

        def block(control: Control, detail: str) -> None:
            found.append(RiskBlock(control, intent.symbol, intent.intent_id, detail))

        key = (intent.sleeve, intent.symbol, intent.side)
        if by_id[intent.intent_id] > 1:
            block(
                Control.DUPLICATE_INTENT,
                f"intent_id appears {by_id[intent.intent_id]} times in this rebalance",
            )
        elif by_key[key] > 1:
            block(
                Control.DUPLICATE_INTENT,
                f"sleeve {intent.sleeve} {intent.side.value} {intent.symbol} appears "
                f"{by_key[key]} times in this rebalance",
            )
        try:
            inst = self.registry[intent.symbol]
        except UnknownInstrument as exc:
            block(Control.UNKNOWN_INSTRUMENT, str(exc))
            return found, 0.0
        price = prices.get(intent.symbol)
        if price is None or not _valid_price(price):
            block(
                Control.REFERENCE_PRICE,
                f"no finite positive reference price (got {price!r}); cannot value the order",
            )
            return found, 0.0
        rate, why = base_rate(fx, inst.currency)
        if rate is None:
            block(Control.FX_RATE, why)
            return found, 0.0
        notional = inst.notional(price, intent.quantity) * rate
        if notional > self.config.max_order_notional_usd:
            fx_note = f" x {inst.currency} {rate:g}" if inst.currency != BASE_CURRENCY else ""
            block(
                Control.MAX_ORDER_NOTIONAL,
                f"notional ${notional:,.0f} ({intent.quantity} x {price} x {inst.multiplier:g}"
                f"{fx_note}) > max_order_notional_usd ${self.config.max_order_notional_usd:,.0f}",
            )
        volume = adv.get(intent.symbol, inst.profile.adv)
        if not _valid_price(volume):  # same test: finite and > 0
            block(Control.MAX_ADV_FRACTION, f"no finite positive ADV (got {volume!r})")
        elif intent.quantity / volume > self.config.max_adv_fraction:
            block(
                Control.MAX_ADV_FRACTION,
                f"{intent.quantity} is {intent.quantity / volume:.2%} of ADV {volume:,.0f} "
                f"> max_adv_fraction {self.config.max_adv_fraction:.2%}",
            )
        return found, notional

    # -------------------------------------------------------------------- plans

    def price_band(self, inst: Instrument, arrival_mid: float) -> tuple[float, float]:
        """``[mid * (1 - cap), mid * (1 + cap)]`` with the policy's collar cap."""
        cap = self.exec_config.slippage_cap_bps(inst.asset_class) / 1e4
        return arrival_mid * (1 - cap), arrival_mid * (1 + cap)

    def _budgeted(self, plan: OrderPlan) -> bool:
        return (
            self.exec_config.collar_budget_k > 0
            and plan.order_type is OrderType.LMT
            and plan.mode is not PolicyMode.AUCTION_CLOSE
        )

    def band_bps(self, inst: Instrument, plan: OrderPlan, elapsed_seconds: float = 0.0) -> float:
        """Half-width (bps of the plan's arrival mid) of the band a price of
        ``plan`` may take ``elapsed_seconds`` after its arrival: the cap, or
        with a parent risk budget the budget band at that time (profile sigma)."""
        cfg = self.exec_config
        cap = cfg.slippage_cap_bps(inst.asset_class)
        if not self._budgeted(plan):
            return cap
        return band_half_width_bps(cap, cfg.collar_budget_k, inst.profile.daily_vol, elapsed_seconds,
                                   plan.ttl_seconds, inst.session_seconds, cfg.emergency_band_bps)  # fmt: skip

    def hard_band_bps(self, inst: Instrument, plan: OrderPlan) -> float:
        """Half-width (bps) of the band the plan's collar must lie in: the band at
        arrival, or for a budgeted sliced plan the emergency band."""
        cfg = self.exec_config
        if self._budgeted(plan) and plan.slices is not None:
            return max(cfg.slippage_cap_bps(inst.asset_class), cfg.emergency_band_bps)
        return self.band_bps(inst, plan)

    def check_plan(self, plan: OrderPlan) -> RiskReport:
        """Check a concrete plan just before submission: kill switch (it may
        have been engaged since the intents were checked), market orders, and
        the price band of the limit, the collar and the reprice ladder."""
        intent = plan.intent
        found: list[RiskBlock] = []

        def block(control: Control, detail: str) -> None:
            found.append(RiskBlock(control, intent.symbol, intent.intent_id, detail))

        engaged, reason = self.kill_switch.is_engaged()
        if engaged:
            block(Control.KILL_SWITCH, f"kill switch engaged: {reason}")
        market = plan.mode is PolicyMode.MARKET or plan.order_type in (OrderType.MKT, OrderType.MOC)
        if market and not self.exec_config.allow_market_orders:
            block(Control.MARKET_ORDER, "market order while allow_market_orders is false")
        try:
            inst = self.registry[intent.symbol]
        except UnknownInstrument as exc:
            block(Control.UNKNOWN_INSTRUMENT, str(exc))
            return self._plan_report(intent, found)
        if not _valid_price(plan.arrival_mid):
            block(
                Control.PRICE_BAND,
                f"arrival mid {plan.arrival_mid!r} is not a finite positive price",
            )
            return self._plan_report(intent, found)
        mid = plan.arrival_mid
        slack = _BAND_EPS * mid
        start_bps, hard_bps = self.band_bps(inst, plan), self.hard_band_bps(inst, plan)
        collar = [("collar_low", plan.collar_low), ("collar_high", plan.collar_high)]
        prices: list[tuple[str, float]] = []
        if plan.limit_price is not None:
            prices.append(("limit_price", plan.limit_price))
        elif not market:
            block(Control.PRICE_BAND, f"{plan.order_type.value} order without a limit price")
        prices += [(f"reprice_ladder[{k}]", p) for k, p in enumerate(plan.reprice_ladder)]
        details = []
        for bps, checked in ((hard_bps, collar), (start_bps, prices)):
            low, high = mid * (1 - bps / 1e4), mid * (1 + bps / 1e4)
            outside = [f"{name} {price}" for name, price in checked
                       if not (math.isfinite(price) and low - slack <= price <= high + slack)]  # fmt: skip
            if outside:
                details.append(f"{', '.join(outside)} outside band [{low:.10g}, {high:.10g}] "
                               f"(arrival mid {mid} +/- {bps:g} bps)")  # fmt: skip
        if details:
            block(Control.PRICE_BAND, "; ".join(details))
        return self._plan_report(intent, found)

    @staticmethod
    def _plan_report(intent: OrderIntent, blocks: list[RiskBlock]) -> RiskReport:
        if blocks:
            return RiskReport((), (intent,), tuple(blocks))
        return RiskReport((intent,), (), ())
