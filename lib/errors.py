"""The one error tree of the execution stack.

Every error raised by ``lib/`` derives from :class:`ExecutionError`. Vendor
errors (ib_async, SQLAlchemy, apprise) are translated into these types at the
edge that talks to the vendor (``raise BrokerRejected(...) from exc``)::

    ExecutionError
    ├── ConfigError                  bad settings.yaml / instruments.yaml (names file, key path, rule)
    ├── InputError                   bad targets file (names file, row, field, rule)
    ├── UnknownInstrument            symbol not in the instrument registry
    ├── PlanRejected                 the policy refused to build a plan (carries a RejectReason)
    │   └── MarketDataRejected       stale / crossed / zero / negative / NaN / missing quotes
    ├── InvalidStateTransition       an order state change not in the transition table
    ├── CalendarError                unknown exchange or calendar lookup failure
    ├── RiskBlocked                  a pre-trade control blocked an order or the rebalance
    ├── IdempotencyConflict          a rebalance id reused with other inputs (nothing sent)
    ├── FxUnavailable                no usable (known, fresh) FX rate for a currency
    ├── ReportingError               a metrics export or alert delivery failed (raised on demand only)
    ├── LedgerError                  the SQL ledger refused a write or could not be reached
    │   └── LedgerConflict           a write clashes with a different row under the same unique key
    └── BrokerError                  anything the broker transport reports
        ├── BrokerTransientError     retryable: disconnect, timeout, pacing
        │   ├── BrokerDisconnected
        │   └── BrokerTimeout
        ├── BrokerRejected           permanent: the broker refused the order (never retried)
        ├── TooLateToCancel          cancel/modify arrived after the order was done
        └── UnknownOrder             the broker does not know this client order id
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BrokerDisconnected",
    "BrokerError",
    "BrokerProtocolError",
    "BrokerRejected",
    "BrokerTimeout",
    "BrokerTransientError",
    "CalendarError",
    "ConfigError",
    "ExecutionError",
    "FxUnavailable",
    "IdempotencyConflict",
    "InputError",
    "InvalidStateTransition",
    "LedgerConflict",
    "LedgerError",
    "MarketDataRejected",
    "PlanRejected",
    "RejectReason",
    "ReportingError",
    "RiskBlocked",
    "TooLateToCancel",
    "UnknownInstrument",
    "UnknownOrder",
]


class ExecutionError(Exception):
    """Root of every error the execution stack raises."""


class ConfigError(ExecutionError):
    """A configuration file is invalid; nothing may run on it.

    The message names the file, the dotted key path and the rule broken.
    """

    def __init__(self, file: str, path: str, rule: str) -> None:
        self.file = file
        self.path = path
        self.rule = rule
        super().__init__(f"{file}: {path}: {rule}")


class InputError(ExecutionError):
    """A targets/input file is invalid; nothing is sent to a broker.

    The message names the file, the row (1-based, ``None`` for the whole file),
    the field and the rule broken. Formats without rows (YAML) pass
    ``location``, an item path such as ``sleeves.trend.trades[2] (line 9)``,
    which then stands where the row would. ``also`` carries the file's further
    problems: the message then lists every problem, one line each, and
    ``problems`` is the whole tuple (this error first).
    """

    def __init__(
        self,
        file: str,
        row: int | None,
        field: str,
        rule: str,
        *,
        location: str | None = None,
        also: tuple[InputError, ...] = (),
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.rule = rule
        self.location = location
        self.also = tuple(p for a in also for p in a.problems)
        if location is not None:
            where = location
        else:
            where = f"row {row}" if row is not None else "file"
        lines = [f"{file}: {where}: {field}: {rule}", *(str(p) for p in self.also)]
        super().__init__("\n".join(lines))

    @property
    def problems(self) -> tuple[InputError, ...]:
        """Every problem, this one first (each with no ``also`` of its own)."""
        if not self.also:
            return (self,)
        single = InputError(self.file, self.row, self.field, self.rule, location=self.location)
        return (single, *self.also)

    @classmethod
    def combine(cls, errors: tuple[InputError, ...] | list[InputError]) -> InputError:
        """One error listing every problem of ``errors`` (in order; not empty)."""
        first, *rest = errors
        return cls(
            first.file, first.row, first.field, first.rule,
            location=first.location, also=(*first.also, *rest),
        )


class UnknownInstrument(ExecutionError):
    """The symbol is not in the instrument registry."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        super().__init__(f"unknown instrument {symbol!r} (not in config/instruments.yaml)")


class RejectReason(StrEnum):
    """Why the policy refused to produce a plan."""

    MISSING_QUOTES = "missing_quotes"
    STALE_DATA = "stale_data"
    CROSSED_MARKET = "crossed_market"
    WIDE_SPREAD = "wide_spread"
    INVALID_PRICE = "invalid_price"
    MARKET_ORDERS_DISABLED = "market_orders_disabled"
    ZERO_QUANTITY = "zero_quantity"
    SYMBOL_MISMATCH = "symbol_mismatch"
    SESSION_CLOSED = "session_closed"


class PlanRejected(ExecutionError):
    """The policy refused to build a plan for an intent."""

    def __init__(self, symbol: str, reason: RejectReason, detail: str = "") -> None:
        self.symbol = symbol
        self.reason = reason
        self.detail = detail
        msg = f"{symbol}: plan rejected: {reason.value}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class MarketDataRejected(PlanRejected):
    """Market data failed validation (stale, crossed, zero/negative/NaN, missing)."""


class InvalidStateTransition(ExecutionError):
    """An order state change that the transition table does not allow."""

    def __init__(self, order_id: str, current: object, target: object) -> None:
        self.order_id = order_id
        self.current = current
        self.target = target
        super().__init__(f"order {order_id}: illegal transition {current} -> {target}")


class CalendarError(ExecutionError):
    """Unknown exchange, or the calendar could not answer."""


class RiskBlocked(ExecutionError):
    """A pre-trade control blocked an order (or the whole rebalance)."""

    def __init__(self, control: str, detail: str) -> None:
        self.control = control
        self.detail = detail
        super().__init__(f"risk control {control!r} blocked: {detail}")


class IdempotencyConflict(ExecutionError):
    """A rebalance id was reused with inputs (targets, trading parameters)
    other than its first run's: the rerun is refused and nothing is sent, the
    way a payment API refuses an idempotency key reused with another body.

    ``differences`` names each input that changed (e.g. ``"targets"``,
    ``"execution.min_trade_notional_usd"``).
    """

    def __init__(
        self, rebalance_id: str, stored: str, given: str, differences: tuple[str, ...]
    ) -> None:
        self.rebalance_id = rebalance_id
        self.stored = stored
        self.given = given
        self.differences = differences
        what = ", ".join(differences) if differences else "inputs"
        super().__init__(
            f"rebalance id {rebalance_id!r} was first run with other inputs "
            f"(fingerprint {stored[:12]}, now {given[:12]}; changed: {what}); a rerun must use "
            f"the same targets and parameters: pass a new --rebalance-id to trade these inputs"
        )


class FxUnavailable(ExecutionError):
    """No usable FX rate: unknown to every source, or stale beyond the limit.
    The orders it affects are blocked with this message (control ``fx_rate``)."""

    def __init__(self, currency: str, base: str, detail: str) -> None:
        self.currency = currency
        self.base = base
        self.detail = detail
        super().__init__(f"no usable {currency}/{base} FX rate: {detail}")


class ReportingError(ExecutionError):
    """A metrics export (Pushgateway push, textfile) or an alert delivery failed.

    lib.metrics and lib.notify report these failures as result objects (a
    reporting failure must not fail a rebalance); ``raise_for_error()`` on
    those results raises this when a caller requires delivery.
    """

    def __init__(self, target: str, detail: str) -> None:
        self.target = target
        self.detail = detail
        super().__init__(f"reporting to {target} failed: {detail}")


class LedgerError(ExecutionError):
    """The SQL ledger refused a write (constraint, missing parent row) or failed.

    SQLAlchemy errors are translated into this at the store edge
    (``raise LedgerError(...) from exc``).
    """


class LedgerConflict(LedgerError):
    """A write clashes with an existing row under the same unique key.

    Raised when a rerun asks to record, say, a client order id that is already
    stored for a *different* order (other symbol, side or quantity): reusing it
    would corrupt idempotency, so the write is refused.
    """

    def __init__(self, table: str, key: str, detail: str) -> None:
        self.table = table
        self.key = key
        self.detail = detail
        super().__init__(f"ledger conflict in {table} for {key!r}: {detail}")


class BrokerError(ExecutionError):
    """Anything the broker transport reports as a failure."""


class BrokerProtocolError(BrokerError):
    """A broker report that breaks an order invariant (cumulative filled above
    the order quantity, filled going back, a non-finite or non-positive fill
    price). ``rule`` names the invariant; the report is never turned into a
    fill beyond the order quantity."""

    def __init__(self, client_order_id: str, rule: str, detail: str) -> None:
        self.client_order_id = client_order_id
        self.rule = rule
        self.detail = detail
        super().__init__(f"order {client_order_id}: broker broke {rule}: {detail}")


class BrokerTransientError(BrokerError):
    """A failure worth retrying (disconnect, timeout, pacing violation)."""


class BrokerDisconnected(BrokerTransientError):
    """The connection to the broker is down."""


class BrokerTimeout(BrokerTransientError):
    """The broker did not answer in time."""


class BrokerRejected(BrokerError):
    """The broker refused the order; never retried as-is."""

    def __init__(self, client_order_id: str, reason: str) -> None:
        self.client_order_id = client_order_id
        self.reason = reason
        super().__init__(f"order {client_order_id} rejected: {reason}")


class TooLateToCancel(BrokerError):
    """A cancel or modify reached the broker after the order was already done."""

    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(f"order {client_order_id}: too late to cancel")


class UnknownOrder(BrokerError):
    """The broker does not know this client order id."""

    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(f"unknown order {client_order_id}")
