"""SQLAlchemy 2 models of the execution ledger (one table per record kind).

Column conventions (the same in every table):

- prices, notionals, commissions, bps: ``Float`` (double precision). Prices
  are rounded to the instrument tick *before* they reach the ledger (at the
  policy / broker edge), so a float column stores them exactly enough.
- quantities (shares / contracts): ``BigInteger``. Sides carry direction
  (``"BUY"``/``"SELL"``) and quantities stay positive, except in
  ``sleeve_allocations`` / ``sleeve_positions`` where quantity is signed.
- timestamps: :class:`UTCDateTime`, ``DateTime(timezone=True)`` that refuses
  naive datetimes and always gives back tz-aware UTC (SQLite keeps no zone).
- enums (side, mode, order state, ...) are plain strings: the ledger records
  what happened and must not reject a value a newer release writes.
- small structured extras (reprice ladder, slices, params): ``JSON``.

The schema is created only by Alembic (``lib/store/migrations``); a test
checks that these models and the migrations agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "DailyMetrics",
    "Decision",
    "FillRow",
    "Intent",
    "MarketSample",
    "NettingResult",
    "Order",
    "OrderEventRow",
    "Plan",
    "Rebalance",
    "RebalanceAttempt",
    "RiskBlock",
    "SleeveAllocation",
    "SleevePosition",
    "UTCDateTime",
]

#: Deterministic constraint names, so migrations can refer to them by name
#: (SQLite batch mode and PostgreSQL both need that to drop/alter one).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LEN = 128  # rebalance ids, intent ids, client order ids, exec ids
SYMBOL_LEN = 32
STATE_LEN = 32


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stores UTC and returns tz-aware UTC.

    A naive datetime is a bug upstream (every clock in lib/ is tz-aware), so
    binding one raises instead of guessing a zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the ledger stores tz-aware UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite drops the zone; we only ever wrote UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: Date(),
        float: Float(),
        int: BigInteger(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


def _fk_rebalance() -> Mapped[str]:
    return mapped_column(
        String(ID_LEN), ForeignKey("rebalances.rebalance_id", ondelete="CASCADE"), index=True
    )


class Rebalance(Base):
    """One portfolio rebalance (one Prefect flow run, reruns included)."""

    __tablename__ = "rebalances"

    rebalance_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    portfolio: Mapped[str] = mapped_column(String(64), default="")
    schedule: Mapped[str] = mapped_column(String(64), default="")
    session_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(STATE_LEN))
    params: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: sha256 hex of the canonical inputs (targets + trading parameters); the
    #: first attempt's wins, a rerun with another one is refused.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    fingerprint_inputs: Mapped[dict[str, Any] | None]
    #: wall clock (the virtual ones above follow the broker's clock on the simulator)
    wall_created_at: Mapped[datetime | None]
    wall_finished_at: Mapped[datetime | None]


class RebalanceAttempt(Base):
    """One attempt (first run or rerun) of a rebalance: its parameters, the
    inputs' fingerprint, what became of it (``"accepted"``/``"refused"``/
    ``"dry_run"``) and, for an accepted one, how it ended (``end_state``)."""

    __tablename__ = "rebalance_attempts"
    __table_args__ = (UniqueConstraint("rebalance_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    attempt: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    outcome: Mapped[str] = mapped_column(String(STATE_LEN))
    detail: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime]
    wall_ts: Mapped[datetime | None]  # wall-clock start (ts is the run's clock)
    # NULL until the attempt reaches its analytics step ("finished"), or until
    # a later attempt finds it never did ("abandoned": crashed, killed, failed).
    finished_at: Mapped[datetime | None]
    wall_finished_at: Mapped[datetime | None]
    end_state: Mapped[str | None] = mapped_column(String(STATE_LEN))


class Intent(Base):
    """A trade request: per sleeve (kind ``"sleeve"``) or netted (``"netted"``)."""

    __tablename__ = "intents"
    __table_args__ = (UniqueConstraint("rebalance_id", "kind", "intent_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    kind: Mapped[str] = mapped_column(String(16))
    intent_id: Mapped[str] = mapped_column(String(ID_LEN))
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    sleeve: Mapped[str | None] = mapped_column(String(64))
    asset_class: Mapped[str | None] = mapped_column(String(16))
    pair_group: Mapped[str | None] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class NettingResult(Base):
    """Cross-sleeve netting of one symbol: gross flows, what crossed internally,
    what goes to the market, and what was dropped (and why)."""

    __tablename__ = "netting_results"
    __table_args__ = (UniqueConstraint("rebalance_id", "symbol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    gross_buy: Mapped[int]
    gross_sell: Mapped[int]
    net_quantity: Mapped[int]  # signed: + buy, - sell; what goes to the market
    crossed_quantity: Mapped[int]  # matched internally between sleeves
    net_intent_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    dropped_reason: Mapped[str | None] = mapped_column(String(64))
    benefit_notional: Mapped[float]  # currency notional not sent to the market
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Plan(Base):
    """The OrderPlan for one intent (``attempt`` counts reruns/replans)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("rebalance_id", "intent_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    intent_id: Mapped[str] = mapped_column(String(ID_LEN))
    attempt: Mapped[int] = mapped_column(Integer)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    mode: Mapped[str] = mapped_column(String(32))
    order_type: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[float | None]
    collar_low: Mapped[float]
    collar_high: Mapped[float]
    arrival_mid: Mapped[float]
    ttl_seconds: Mapped[float]
    replace_interval_seconds: Mapped[float]
    max_replace_attempts: Mapped[int] = mapped_column(Integer)
    reprice_ladder: Mapped[list[Any]]
    max_slippage_bps: Mapped[float]
    slices: Mapped[dict[str, Any] | None]
    adv_fraction: Mapped[float]
    reasons: Mapped[list[Any]]
    created_at: Mapped[datetime]


class Order(Base):
    """One order sent (or about to be sent) to a broker; written *before* the
    send (write-ahead). ``filled_quantity``/``avg_fill_price``/``commission``
    are maintained from ``fills`` in the same transaction as each fill."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    # indexed by ix_orders_rebalance_status (rebalance_id first)
    rebalance_id: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("rebalances.rebalance_id", ondelete="CASCADE")
    )
    intent_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    parent_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    order_type: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[float | None]
    mode: Mapped[str | None] = mapped_column(String(32))
    slice_index: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(STATE_LEN))
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    filled_quantity: Mapped[int]
    avg_fill_price: Mapped[float | None]
    commission: Mapped[float]
    replace_count: Mapped[int] = mapped_column(Integer)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    wall_created_at: Mapped[datetime | None]
    wall_submitted_at: Mapped[datetime | None]
    wall_updated_at: Mapped[datetime | None]


class OrderEventRow(Base):
    """One entry of an order's history (state change, command sent, fill, error)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(
        String(ID_LEN),
        ForeignKey("orders.client_order_id", ondelete="CASCADE"),
        index=True,
    )
    ts: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(STATE_LEN))
    to_state: Mapped[str] = mapped_column(String(STATE_LEN))
    price: Mapped[float | None]
    quantity: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text)
    wall_ts: Mapped[datetime | None]


class FillRow(Base):
    """One execution; ``exec_id`` is the broker's id and is UNIQUE."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exec_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    client_order_id: Mapped[str] = mapped_column(
        String(ID_LEN),
        ForeignKey("orders.client_order_id", ondelete="CASCADE"),
        index=True,
    )
    rebalance_id: Mapped[str] = _fk_rebalance()  # denormalised: fills_for_rebalance
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    price: Mapped[float]
    commission: Mapped[float]
    liquidity: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    recorded_at: Mapped[datetime]
    wall_recorded_at: Mapped[datetime | None]


class SleeveAllocation(Base):
    """Signed quantity of a symbol given to a sleeve by one rebalance.

    ``applied_quantity`` is how much of ``quantity`` has been added to
    ``sleeve_positions`` already, so applying is idempotent and a rerun that
    re-allocates a larger total applies only the difference.
    """

    __tablename__ = "sleeve_allocations"
    __table_args__ = (UniqueConstraint("rebalance_id", "sleeve", "symbol", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    sleeve: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    source: Mapped[str] = mapped_column(String(32))  # "execution" / "internal_cross"
    quantity: Mapped[int]  # signed
    price: Mapped[float]
    applied_quantity: Mapped[int]
    intent_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SleevePosition(Base):
    """A sleeve's book: signed quantity and average cost per symbol."""

    __tablename__ = "sleeve_positions"

    sleeve: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    quantity: Mapped[int]
    avg_price: Mapped[float | None]
    last_rebalance_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    updated_at: Mapped[datetime]


class RiskBlock(Base):
    """A pre-trade control that blocked an order (symbol set) or the rebalance."""

    __tablename__ = "risk_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    control: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str | None] = mapped_column(String(SYMBOL_LEN))
    intent_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    ts: Mapped[datetime]


class DailyMetrics(Base):
    """One day's execution summary for one scope (``"all"`` or a portfolio)."""

    __tablename__ = "daily_metrics"
    __table_args__ = (UniqueConstraint("day", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date]
    scope: Mapped[str] = mapped_column(String(64))
    orders: Mapped[int] = mapped_column(Integer)
    fills: Mapped[int] = mapped_column(Integer)
    fill_rate: Mapped[float]
    total_notional: Mapped[float]
    slippage_bps_weighted: Mapped[float | None]
    slippage_bps_p95: Mapped[float | None]
    shortfall_bps: Mapped[float | None]
    commission: Mapped[float]
    replaces_total: Mapped[int] = mapped_column(Integer)
    netting_saved_qty: Mapped[int]
    netting_saved_notional: Mapped[float]
    extras: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class Decision(Base):
    """The mid of a symbol when the rebalance decided to trade it (the
    implementation-shortfall benchmark; first run wins, reruns keep it)."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("rebalance_id", "symbol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    mid: Mapped[float]
    ts: Mapped[datetime]
    wall_ts: Mapped[datetime]


class MarketSample(Base):
    """One top-of-book sample of a symbol during (``phase="during"``) or after
    (``"after"``) a rebalance; ``volume`` is the cumulative tape volume when
    the broker knows it (the simulator does), for interval VWAP."""

    __tablename__ = "market_samples"
    __table_args__ = (UniqueConstraint("rebalance_id", "symbol", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rebalance_id: Mapped[str] = _fk_rebalance()
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    phase: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    wall_ts: Mapped[datetime]
    bid: Mapped[float | None]
    ask: Mapped[float | None]
    mid: Mapped[float | None]
    last: Mapped[float | None]
    volume: Mapped[int | None]


Index("ix_orders_rebalance_status", Order.rebalance_id, Order.status)
