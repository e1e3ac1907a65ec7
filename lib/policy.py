"""ExecutionPolicy: an intent plus a market data snapshot becomes an OrderPlan.

The policy decides *how* to trade one intent: mode, order type, limit price,
the hard collar, the reprice ladder for cancel/replace, and slicing. It never
sends anything; it only refuses (raising :class:`lib.errors.PlanRejected` or
its subclass :class:`lib.errors.MarketDataRejected`) or returns a plan.

Pricing rules (prices in the instrument's quote currency, on its tick grid):

- Collar: ``arrival_mid * (1 -/+ cap_bps / 1e4)`` snapped inward to the grid
  (:class:`lib.slippage.CollarEnforcer`), fixed at arrival: no price of the
  plan, replacements included, ever leaves it.
- Parent risk budget (``collar_budget_k`` > 0, limit plans but auctions): the
  band at time ``e`` after arrival is the cap plus ``k * sigma_daily *
  sqrt((e + TTL) / session)`` (:func:`lib.parent_budget.band_half_width_bps`),
  at most ``emergency_band_bps``. The plan's limit and ladder lie in the band at
  arrival; an unsliced plan's collar is that band; a sliced plan's collar is the
  hard emergency band, inside which each child gets the band of its own release
  time (:mod:`lib.orders.parent`). :mod:`lib.risk` checks the same bands.
- Marketable limit ("the touch"): BUY at the ask, SELL at the bid, plus
  ``aggression_ticks`` through it (default 0), clamped into the collar. If the
  touch lies outside the collar (spread wider than the cap) the collar binds
  and the plan's ``reasons`` say so.
- Reprice ladder, one rung per replace attempt 1..N (N = max_replace_attempts):
  linear in ticks from the starting limit to the aggressive collar edge (BUY:
  collar_high, SELL: collar_low). Rung k is ``start + side * min(room, max(k,
  floor(room * k / N)))`` ticks where ``room`` is the tick distance from start
  to edge: every step moves at least one tick while room remains, the last
  rung sits on the edge, and the ladder is monotone toward the aggressive side.
  :meth:`ExecutionPolicy.reprice` re-bases a rung on the touch at replace time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import MarketDataRejected, PlanRejected, RejectReason
from lib.instruments import InstrumentRegistry
from lib.parent_budget import band_half_width_bps, budget_band, fits_book
from lib.policy_schedules import DEFAULT_SCHEDULE_HORIZON_SECONDS, fit_to_session, time_schedule
from lib.slicing import pov_schedule
from lib.slippage import CollarEnforcer
from lib.types import (
    Instrument,
    MarketDataSnapshot,
    OrderIntent,
    OrderPlan,
    OrderType,
    PolicyMode,
    SessionPhase,
    Side,
    SliceSchedule,
)

__all__ = [
    "AUCTION_TTL_GRACE_SECONDS",
    "DEFAULT_SCHEDULE_HORIZON_SECONDS",
    "ExecutionPolicy",
    "build_reprice_ladder",
]

#: A closing-auction order lives until the auction prints; its TTL is the time
#: left in the session plus this margin (seconds) for the auction itself.
AUCTION_TTL_GRACE_SECONDS = 300.0

# Modes whose large orders are cut into participation-capped children.
_POV_MODES = frozenset({PolicyMode.MARKETABLE_LIMIT, PolicyMode.PASSIVE_FIRST})


def build_reprice_ladder(
    instrument: Instrument,
    side: Side,
    start: float,
    collar_low: float,
    collar_high: float,
    steps: int,
) -> tuple[float, ...]:
    """``steps`` on-grid limits from ``start`` to the aggressive collar edge.

    Linear in ticks with at least one tick per step while room remains (see the
    module docstring). ``start`` must be an on-grid price inside the collar.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    tick = instrument.tick_size
    start_idx = round(start / tick)
    edge = collar_high if side is Side.BUY else collar_low
    room = max(0, side.sign * (round(edge / tick) - start_idx))
    rungs: list[float] = []
    for k in range(1, steps + 1):
        offset = min(room, max(k, room * k // steps))
        rungs.append(instrument.round_to_tick((start_idx + side.sign * offset) * tick))
    return tuple(rungs)


@dataclass(frozen=True, slots=True)
class _Quotes:
    """Validated top of book: finite, > 0, bid <= ask."""

    bid: float
    ask: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


class ExecutionPolicy:
    """Builds OrderPlans. ``aggression_ticks`` (>= 0) prices a marketable limit
    that many ticks through the touch (0 = exactly the touch)."""

    def __init__(
        self,
        config: ExecutionConfig,
        instruments: InstrumentRegistry,
        clock: Clock,
        *,
        aggression_ticks: int = 0,
    ) -> None:
        if aggression_ticks < 0:
            raise ValueError(f"aggression_ticks must be >= 0, got {aggression_ticks}")
        self._config = config
        self._instruments = instruments
        self._clock = clock
        self._aggression_ticks = aggression_ticks
        self._collars = CollarEnforcer(config)

    @property
    def config(self) -> ExecutionConfig:
        return self._config

    @property
    def instruments(self) -> InstrumentRegistry:
        """The registry plans are built from (tick sizes, multipliers)."""
        return self._instruments

    # ------------------------------------------------------------------ data

    def validate_snapshot(self, symbol: str, snapshot: MarketDataSnapshot) -> tuple[float, float]:
        """``(bid, ask)`` if the snapshot is usable for ``symbol``, else raise
        MarketDataRejected: SYMBOL_MISMATCH, MISSING_QUOTES, INVALID_PRICE
        (NaN/inf/zero/negative), CROSSED_MARKET (bid > ask; locked bid == ask
        is allowed), STALE_DATA (no/naive timestamp, or older than
        ``max_data_age_seconds``, or that far in the future)."""
        q = self._validate(symbol, snapshot)
        return q.bid, q.ask

    def _validate(self, symbol: str, snap: MarketDataSnapshot) -> _Quotes:
        if snap.symbol != symbol:
            raise MarketDataRejected(
                symbol, RejectReason.SYMBOL_MISMATCH, f"snapshot is for {snap.symbol!r}"
            )
        if snap.bid is None or snap.ask is None:
            missing = [n for n, v in (("bid", snap.bid), ("ask", snap.ask)) if v is None]
            raise MarketDataRejected(symbol, RejectReason.MISSING_QUOTES, f"no {'/'.join(missing)}")
        for name, value in (("bid", snap.bid), ("ask", snap.ask)):
            if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
                raise MarketDataRejected(symbol, RejectReason.INVALID_PRICE, f"{name}={value!r}")
        if snap.bid > snap.ask:
            raise MarketDataRejected(
                symbol, RejectReason.CROSSED_MARKET, f"bid {snap.bid} > ask {snap.ask}"
            )
        spread_bps = 1e4 * (snap.ask - snap.bid) / (0.5 * (snap.ask + snap.bid))
        if spread_bps > self._config.max_spread_bps:
            raise MarketDataRejected(
                symbol, RejectReason.WIDE_SPREAD,
                f"spread {spread_bps:.0f} bps > max_spread_bps {self._config.max_spread_bps:g}",
            )
        if snap.ts is None:
            raise MarketDataRejected(symbol, RejectReason.STALE_DATA, "snapshot has no timestamp")
        if snap.ts.tzinfo is None:
            raise MarketDataRejected(symbol, RejectReason.STALE_DATA, "timestamp is not tz-aware")
        age = (self._clock.now() - snap.ts).total_seconds()
        limit = self._config.max_data_age_seconds
        if age > limit:
            raise MarketDataRejected(
                symbol, RejectReason.STALE_DATA, f"quote is {age:.1f} s old (max {limit:g} s)"
            )
        if age < -limit:  # a feed clock this far ahead of ours cannot be trusted either
            raise MarketDataRejected(
                symbol, RejectReason.STALE_DATA, f"quote is {-age:.1f} s in the future"
            )
        return _Quotes(float(snap.bid), float(snap.ask))

    # --------------------------------------------------------------- pricing

    def _touch(self, inst: Instrument, side: Side, q: _Quotes) -> float:
        """The marketable price (BUY: ask, SELL: bid) plus aggression, on grid."""
        through = self._aggression_ticks * inst.tick_size
        if side is Side.BUY:
            return inst.round_to_tick(inst.ceil_to_tick(q.ask) + through)
        return inst.round_to_tick(inst.floor_to_tick(q.bid) - through)

    @staticmethod
    def _near_touch(inst: Instrument, side: Side, q: _Quotes) -> float:
        """The passive price: BUY at the bid, SELL at the ask, on grid."""
        return inst.floor_to_tick(q.bid) if side is Side.BUY else inst.ceil_to_tick(q.ask)

    # ------------------------------------------------------------------ plan

    def _resolve_mode(self, intent: OrderIntent) -> tuple[PolicyMode, str]:
        if intent.mode is not None:
            mode, source = intent.mode, "requested by intent"
        else:
            mode, source = self._config.default_policy, "config default_policy"
        if mode is PolicyMode.MARKET and not self._config.allow_market_orders:
            raise PlanRejected(
                intent.symbol,
                RejectReason.MARKET_ORDERS_DISABLED,
                "market orders need allow_market_orders: true",
            )
        return mode, f"mode {mode.value} ({source})"

    def create_plan(
        self,
        intent: OrderIntent,
        market_data: MarketDataSnapshot,
        adv: float | None = None,
        session_phase: SessionPhase = SessionPhase.REGULAR,
        *,
        remaining_session_seconds: float | None = None,
    ) -> OrderPlan:
        """Plan one intent, or raise PlanRejected / MarketDataRejected.

        ``adv`` in shares/contracts per day (None: the registry profile's ADV);
        ``remaining_session_seconds`` (from lib/calendars) sets the TWAP/VWAP
        horizon and the auction TTL, and flags POV schedules that outlast the
        session.
        """
        quotes = self._validate(intent.symbol, market_data)
        if intent.quantity == 0:
            raise PlanRejected(intent.symbol, RejectReason.ZERO_QUANTITY, intent.intent_id)
        if session_phase is SessionPhase.CLOSED or (
            remaining_session_seconds is not None and remaining_session_seconds <= 0
        ):
            raise PlanRejected(intent.symbol, RejectReason.SESSION_CLOSED, session_phase.value)
        inst = self._instruments[intent.symbol]
        mode, mode_reason = self._resolve_mode(intent)
        reasons = [mode_reason]
        side = intent.side
        cfg = self._config

        if adv is None:
            adv = inst.profile.adv
            reasons.append(f"adv {adv:g} from the instrument profile")
        if not math.isfinite(adv) or adv <= 0:
            raise ValueError(f"{intent.symbol}: adv must be finite and > 0, got {adv!r}")
        adv_fraction = intent.quantity / adv

        arrival_mid = quotes.mid
        low, high = self._collars.collar(inst, side, arrival_mid)
        touch = self._touch(inst, side, quotes)
        marketable = self._collars.clamp(inst, side, touch, low, high)
        if not self._collars.is_within(touch, low, high):
            reasons.append(
                f"collar binds: touch {touch:g} outside [{low:g}, {high:g}] "
                f"(spread {market_data.spread_bps or 0.0:.2f} bps vs cap "
                f"{self._collars.cap_bps(inst):g} bps); limit held at {marketable:g}"
            )
        if session_phase in (SessionPhase.OPENING, SessionPhase.CLOSING):
            reasons.append(f"session phase {session_phase.value}: spreads typically wider")

        order_type = OrderType.LMT
        limit: float | None = marketable
        ladder: tuple[float, ...] = ()
        attempts = cfg.max_replace_attempts
        ttl = cfg.order_ttl_seconds
        slices: SliceSchedule | None = None

        if mode is PolicyMode.MARKET:
            order_type, limit, attempts = OrderType.MKT, None, 0
            reasons.append("market order: the collar is monitored, not enforced by the broker")
        elif mode is PolicyMode.AUCTION_CLOSE:
            order_type, attempts = OrderType.LOC, 0
            limit = high if side is Side.BUY else low
            reasons.append("limit-on-close at the collar edge; auction orders are not repriced")
            if remaining_session_seconds is not None:
                ttl = max(ttl, remaining_session_seconds + AUCTION_TTL_GRACE_SECONDS)
        elif mode is PolicyMode.PASSIVE_FIRST:
            limit = self._collars.clamp(inst, side, self._near_touch(inst, side, quotes), low, high)
            if attempts > 0:
                rest = build_reprice_ladder(inst, side, marketable, low, high, attempts - 1)
                ladder = (marketable, *rest)
        else:  # MARKETABLE_LIMIT, TWAP, VWAP: children/parent start at the touch
            ladder = build_reprice_ladder(inst, side, marketable, low, high, attempts)

        if mode in (PolicyMode.TWAP, PolicyMode.VWAP):
            slices = time_schedule(cfg, inst, intent.quantity, mode, remaining_session_seconds, reasons)
        elif mode in _POV_MODES and (
            adv_fraction > cfg.adv_fraction_threshold
            or not fits_book(intent.quantity, side, market_data, cfg.slice_above_book_multiple,
                             pair_leg=intent.pair_group is not None)
        ):
            slices = pov_schedule(
                intent.quantity,
                adv,
                inst.session_seconds,
                cfg.max_participation_rate,
                cfg.slice_interval_seconds,
            )
            reasons.append(
                f"{adv_fraction:.4%} of ADV (threshold {cfg.adv_fraction_threshold:.4%}), "
                f"top-of-book multiple {cfg.slice_above_book_multiple:g}: "
                f"POV at {cfg.max_participation_rate:.0%} in {slices.n_slices} children "
                f"every {cfg.slice_interval_seconds:g} s"
            )
            span = slices.n_slices * slices.interval_seconds
            if remaining_session_seconds is not None and span > remaining_session_seconds:
                slices = fit_to_session(cfg, intent.quantity, adv, inst, slices, remaining_session_seconds, reasons)

        if (
            cfg.collar_budget_k > 0
            and order_type is OrderType.LMT
            and mode is not PolicyMode.AUCTION_CLOSE
            and limit is not None
        ):
            cap_bps = self._collars.cap_bps(inst)
            start_w = band_half_width_bps(cap_bps, cfg.collar_budget_k, inst.profile.daily_vol, 0.0, ttl,
                                          inst.session_seconds, cfg.emergency_band_bps)  # fmt: skip
            s_low, s_high = budget_band(inst, arrival_mid, start_w)  # the band at arrival
            base_edge = high if side is Side.BUY else low  # the ladder still climbs only to here
            if slices is not None:
                # children are priced in the band of their own time (lib.orders.parent),
                # which widens inside this hard band; the plan's own prices use the start band
                low, high = budget_band(inst, arrival_mid, max(cap_bps, cfg.emergency_band_bps))
            else:
                low, high = s_low, s_high
            marketable = self._collars.clamp(inst, side, touch, s_low, s_high)
            if mode is PolicyMode.PASSIVE_FIRST:
                limit = self._collars.clamp(inst, side, self._near_touch(inst, side, quotes), s_low, s_high)
            else:
                limit = marketable
            # reprices re-base on the touch (ExecutionPolicy.reprice), so drift is
            # followed inside the band while the ladder stays on the base cap
            edge = base_edge if side.sign * (base_edge - marketable) > 0 else marketable
            lad_low, lad_high = (s_low, edge) if side is Side.BUY else (edge, s_high)
            if mode is PolicyMode.PASSIVE_FIRST:
                if attempts > 0:
                    rest = build_reprice_ladder(inst, side, marketable, lad_low, lad_high, attempts - 1)
                    ladder = (marketable, *rest)
            else:
                ladder = build_reprice_ladder(inst, side, marketable, lad_low, lad_high, attempts)
            span_note = (
                f"; children widen with elapsed time inside the hard band [{low:g}, {high:g}] "
                f"(emergency_band_bps {max(cap_bps, cfg.emergency_band_bps):g})" if slices is not None else ""
            )
            reasons.append(
                f"parent risk budget: collar widened by {cfg.collar_budget_k:g} x sigma_daily x "
                f"sqrt((elapsed + {ttl:g} s) / session) = {start_w - cap_bps:.2f} bps at arrival "
                f"to [{s_low:g}, {s_high:g}]{span_note}"
            )

        return OrderPlan(
            intent=intent,
            mode=mode,
            order_type=order_type,
            limit_price=limit,
            collar_low=low,
            collar_high=high,
            arrival_mid=arrival_mid,
            ttl_seconds=ttl,
            replace_interval_seconds=cfg.replace_interval_seconds,
            max_replace_attempts=attempts,
            reprice_ladder=ladder,
            max_slippage_bps=self._collars.cap_bps(inst),
            slices=slices,
            adv_fraction=adv_fraction,
            created_at=self._clock.now(),
            reasons=tuple(reasons),
        )

    # --------------------------------------------------------------- reprice

    def reprice(self, plan: OrderPlan, attempt: int, current_snapshot: MarketDataSnapshot) -> float:
        """The limit for replace ``attempt`` (1-based, 1..len(ladder)).

        Re-based on the current touch: BUY ``max(touch, ladder[attempt-1])``,
        SELL ``min(...)``, then clamped into the plan's ORIGINAL collar (collars
        are fixed at arrival). Invalid current data raises MarketDataRejected:
        the caller keeps the working order rather than reprice on bad quotes.
        """
        if not plan.reprice_ladder:
            raise ValueError(f"{plan.symbol}: plan ({plan.mode.value}) has no reprice ladder")
        if not 1 <= attempt <= len(plan.reprice_ladder):
            raise ValueError(
                f"{plan.symbol}: attempt {attempt} outside 1..{len(plan.reprice_ladder)}"
            )
        quotes = self._validate(plan.symbol, current_snapshot)
        inst = self._instruments[plan.symbol]
        touch = self._touch(inst, plan.side, quotes)
        rung = plan.reprice_ladder[attempt - 1]
        target = max(touch, rung) if plan.side is Side.BUY else min(touch, rung)
        return self._collars.clamp(inst, plan.side, target, plan.collar_low, plan.collar_high)
