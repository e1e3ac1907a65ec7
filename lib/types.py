"""Value objects of the execution stack.

Units: prices in the instrument's quote currency per unit (per share, per
index point, per FX unit); quantities are integers (shares or contracts);
notionals in the instrument's currency (``price * quantity * multiplier``);
timestamps tz-aware UTC; slippage in basis points, positive = cost.

Everything here is immutable except :class:`OrderTicket`, which is the live
record an OrderManager mutates as broker updates arrive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "AssetClass",
    "ExecutionResult",
    "Fill",
    "Instrument",
    "LiquidityProfile",
    "MarketDataSnapshot",
    "OrderIntent",
    "OrderPlan",
    "OrderTicket",
    "OrderType",
    "PairGroup",
    "PolicyMode",
    "SessionPhase",
    "Side",
    "SliceSchedule",
]


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def from_signed(cls, qty: float) -> Side:
        return cls.BUY if qty > 0 else cls.SELL


class AssetClass(StrEnum):
    ETF = "ETF"
    STK = "STK"
    FUT = "FUT"
    FX_FUT = "FX_FUT"


class PolicyMode(StrEnum):
    """How a plan executes. MARKET is only legal when ``allow_market_orders``."""

    MARKETABLE_LIMIT = "marketable_limit"
    PASSIVE_FIRST = "passive_first"
    AUCTION_CLOSE = "auction_close"
    VWAP = "vwap"
    TWAP = "twap"
    MARKET = "market"


class OrderType(StrEnum):
    """Order types sent to a broker. LOC = limit-on-close (closing auction)."""

    LMT = "LMT"
    MKT = "MKT"
    LOC = "LOC"
    MOC = "MOC"


class SessionPhase(StrEnum):
    """Where an exchange is in its trading day at a given instant."""

    CLOSED = "closed"
    PRE_OPEN = "pre_open"
    OPENING = "opening"  # inside avoid_first_minutes_after_open
    REGULAR = "regular"
    CLOSING = "closing"  # inside avoid_last_minutes_before_close
    AFTER_CLOSE = "after_close"


@dataclass(frozen=True, slots=True)
class LiquidityProfile:
    """Static liquidity facts about an instrument.

    price: typical price; spread_bps: typical quoted spread in bps of mid;
    daily_vol: daily return volatility as a fraction (0.011 = 1.1%);
    adv: average daily volume in shares/contracts;
    top_of_book: typical displayed size at the touch, shares/contracts.
    """

    price: float
    spread_bps: float
    daily_vol: float
    adv: float
    top_of_book: float


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable contract. tick_size in price units; multiplier is the
    currency value of one point per contract (1 for shares)."""

    symbol: str
    asset_class: AssetClass
    exchange: str
    currency: str
    tick_size: float
    multiplier: float
    profile: LiquidityProfile
    calendar: str = "NYSE"
    session_seconds: int = 23_400

    def round_to_tick(self, price: float) -> float:
        """Nearest price on the tick grid (ties away from zero)."""
        return round(round(price / self.tick_size) * self.tick_size, 10)

    def floor_to_tick(self, price: float) -> float:
        return round(math.floor(price / self.tick_size + 1e-9) * self.tick_size, 10)

    def ceil_to_tick(self, price: float) -> float:
        return round(math.ceil(price / self.tick_size - 1e-9) * self.tick_size, 10)

    def on_tick(self, price: float) -> bool:
        steps = price / self.tick_size
        return abs(steps - round(steps)) < 1e-6

    def notional(self, price: float, quantity: float) -> float:
        """Currency notional of ``quantity`` units at ``price``."""
        return abs(price * quantity * self.multiplier)


@dataclass(frozen=True, slots=True)
class MarketDataSnapshot:
    """Top of book at ``ts``. Prices may be None or NaN when the feed has none;
    the policy validates before use. ``volume``: shares/contracts traded in the
    session so far as the feed reports it (None: the feed gives none, and
    participation falls back to ADV)."""

    symbol: str
    bid: float | None
    ask: float | None
    last: float | None = None
    close: float | None = None
    ts: datetime | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    volume: float | None = None

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2.0

    @property
    def spread(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid

    @property
    def spread_bps(self) -> float | None:
        mid = self.mid
        spread = self.spread
        if mid is None or spread is None or mid <= 0:
            return None
        return spread / mid * 1e4


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What we want to trade: a sleeve's (or the netted book's) request.

    quantity is a positive integer; direction lives in ``side``.
    ``sleeve`` is None for a netted intent that serves several sleeves.
    """

    intent_id: str
    symbol: str
    side: Side
    quantity: int
    sleeve: str | None = None
    asset_class: AssetClass | None = None
    pair_group: str | None = None
    urgency: str = "normal"
    mode: PolicyMode | None = None  # explicit mode request (e.g. AUCTION_CLOSE)

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise TypeError(f"intent {self.intent_id}: quantity must be int, got {self.quantity!r}")
        if self.quantity < 0:
            raise ValueError(f"intent {self.intent_id}: quantity must be >= 0 (side carries sign)")

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity


@dataclass(frozen=True, slots=True)
class SliceSchedule:
    """How a parent order is cut into children.

    style: "TWAP" or "POV"; child_quantities sum to the parent quantity;
    interval_seconds between child releases; participation is the cap used
    (fraction of ADV-implied volume per unit time).
    """

    style: str
    child_quantities: tuple[int, ...]
    interval_seconds: float
    participation: float

    @property
    def n_slices(self) -> int:
        return len(self.child_quantities)

    @property
    def duration_seconds(self) -> float:
        return self.interval_seconds * max(0, self.n_slices - 1)


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """How to execute one intent.

    limit_price is None only for MARKET mode. collar_low/high bound every
    price this plan may ever use, replacements included. reprice_ladder holds
    the successive limit prices for replace attempts 1..N (each on the tick grid
    and inside the collar). arrival_mid is the benchmark for slippage.
    """

    intent: OrderIntent
    mode: PolicyMode
    order_type: OrderType
    limit_price: float | None
    collar_low: float
    collar_high: float
    arrival_mid: float
    ttl_seconds: float
    replace_interval_seconds: float
    max_replace_attempts: int
    reprice_ladder: tuple[float, ...]
    max_slippage_bps: float
    slices: SliceSchedule | None = None
    adv_fraction: float = 0.0
    created_at: datetime | None = None
    reasons: tuple[str, ...] = ()

    @property
    def symbol(self) -> str:
        return self.intent.symbol

    @property
    def side(self) -> Side:
        return self.intent.side

    @property
    def quantity(self) -> int:
        return self.intent.quantity

    def in_collar(self, price: float) -> bool:
        return self.collar_low - 1e-9 <= price <= self.collar_high + 1e-9


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. price per unit; commission in account currency (>= 0)."""

    exec_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: int
    price: float
    ts: datetime
    commission: float = 0.0
    liquidity: str = ""  # "add" (passive) / "remove" (aggressive) when known


@dataclass(slots=True)
class OrderTicket:
    """Live tracking of one order sent to a broker (mutable by design: the
    OrderManager owns it and changes it only through the transition table)."""

    client_order_id: str
    plan: OrderPlan
    quantity: int
    limit_price: float | None
    state: str
    submitted_at: datetime | None = None
    last_update: datetime | None = None
    broker_order_id: str | None = None
    filled_quantity: int = 0
    avg_fill_price: float = 0.0
    replace_count: int = 0
    fills: list[Fill] = field(default_factory=list)
    messages: int = 0
    reject_reason: str | None = None
    parent_id: str | None = None

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def symbol(self) -> str:
        return self.plan.intent.symbol

    @property
    def side(self) -> Side:
        return self.plan.intent.side


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """Outcome of one intent once every order for it is terminal.

    slippage_bps vs arrival mid, positive = cost (None if nothing filled).
    """

    intent_id: str
    symbol: str
    side: Side
    requested_quantity: int
    filled_quantity: int
    avg_price: float | None
    arrival_mid: float
    slippage_bps: float | None
    status: str
    mode: PolicyMode
    replace_count: int
    commission: float
    started_at: datetime
    finished_at: datetime
    messages: int = 0
    asset_class: AssetClass | None = None
    notional: float = 0.0

    @property
    def fill_rate(self) -> float:
        if self.requested_quantity == 0:
            return 1.0
        return self.filled_quantity / self.requested_quantity

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class PairGroup:
    """Legs that must execute together (e.g. US long + EU short).

    hedge_symbol: instrument used for a temporary hedge when legging; None means
    hedge with the lagging leg's own instrument is not possible and only
    repricing is used.
    """

    group_id: str
    legs: tuple[OrderIntent, ...]
    hedge_symbol: str | None = None
    hedge_ratio: float = 1.0

    def __post_init__(self) -> None:
        if len(self.legs) < 2:
            raise ValueError(f"pair group {self.group_id}: needs at least 2 legs")
