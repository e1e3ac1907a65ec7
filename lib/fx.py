"""Money in the base currency: FX rates and conversions.

Every limit, filter, summary and metric is in the base currency (USD by
default); an instrument's notional is in its own currency
(``price * quantity * multiplier``) and is converted with
``base = local * rate(currency)`` where ``rate`` is base units per one unit of
the currency (EUR 1.08 = one euro is 1.08 USD). Money is never added across
currencies unconverted.

Sources, first that answers wins (:class:`FxTable`):

1. the broker's own rates, when the transport offers
   ``get_fx_rate(currency) -> (rate, as_of) | None`` (IBKR);
2. the simulator's FX (``SimBroker.config.fx_to_base``), current by definition;
3. the configured fallback table (``fx.fallback_rates`` in settings.yaml, with
   ``fx.fallback_as_of``), valid for ``fx.max_age_seconds`` after its as-of time.

A currency no source knows, or whose only rate is older than the staleness
limit, raises :class:`lib.errors.FxUnavailable` naming the currency, the
sources tried and why; callers turn that into a block of the orders it
affects (control ``fx_rate``), with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lib.clock import Clock
from lib.errors import FxUnavailable

__all__ = [
    "BASE_CURRENCY",
    "BrokerFxSource",
    "FxQuote",
    "FxSource",
    "FxTable",
    "SimFxSource",
    "StaticFxSource",
    "fx_for_broker",
]

#: The base currency of every limit, summary and metric.
BASE_CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class FxQuote:
    """``rate``: base units per one unit of ``currency``; ``as_of`` tz-aware."""

    currency: str
    rate: float
    as_of: datetime
    source: str


class FxSource(Protocol):
    name: str

    def quote(self, currency: str) -> FxQuote | None:
        """The source's rate for ``currency`` (None: it has none)."""
        ...


class StaticFxSource:
    """A fixed table with one as-of time (the configured fallback)."""

    def __init__(self, rates: Mapping[str, float], as_of: datetime, name: str = "fallback") -> None:
        self.rates = dict(rates)
        self.as_of = as_of
        self.name = name

    def quote(self, currency: str) -> FxQuote | None:
        rate = self.rates.get(currency)
        return None if rate is None else FxQuote(currency, rate, self.as_of, self.name)


class SimFxSource:
    """The simulator's rates (``config.fx_to_base``), current at the clock's now."""

    name = "simulator"

    def __init__(self, rates: Mapping[str, float], clock: Clock) -> None:
        self.rates = dict(rates)
        self.clock = clock

    def quote(self, currency: str) -> FxQuote | None:
        rate = self.rates.get(currency)
        return None if rate is None else FxQuote(currency, rate, self.clock.now(), self.name)


class BrokerFxSource:
    """A transport's ``get_fx_rate(currency) -> (rate, as_of) | None``."""

    name = "broker"

    def __init__(self, broker: Any) -> None:
        self.broker = broker

    def quote(self, currency: str) -> FxQuote | None:
        got = self.broker.get_fx_rate(currency)
        if got is None:
            return None
        rate, as_of = got
        return FxQuote(currency, float(rate), as_of, self.name)


class FxTable:
    """Converts local-currency amounts to the base currency.

    ``max_age_seconds`` bounds how old a rate may be (clock seconds).
    """

    def __init__(
        self,
        clock: Clock,
        sources: Sequence[FxSource] = (),
        *,
        base: str = BASE_CURRENCY,
        max_age_seconds: float = 86_400.0,
    ) -> None:
        self.clock = clock
        self.sources = tuple(sources)
        self.base = base
        self.max_age_seconds = max_age_seconds

    def rate(self, currency: str) -> float:
        """Base units per one unit of ``currency``; raises FxUnavailable."""
        if currency == self.base:
            return 1.0
        now = self.clock.now()
        tried: list[str] = []
        for source in self.sources:
            q = source.quote(currency)
            if q is None:
                tried.append(f"{source.name}: no rate")
                continue
            if not (math.isfinite(q.rate) and q.rate > 0):
                tried.append(f"{source.name}: invalid rate {q.rate!r}")
                continue
            age = (now - q.as_of).total_seconds()
            if age > self.max_age_seconds:
                tried.append(
                    f"{source.name}: rate {q.rate:g} as of {q.as_of.isoformat()} is stale "
                    f"({age:,.0f} s > max_age_seconds {self.max_age_seconds:,.0f})"
                )
                continue
            return q.rate
        detail = "; ".join(tried) if tried else "no FX source configured"
        raise FxUnavailable(currency, self.base, detail)

    def to_base(self, amount: float, currency: str) -> float:
        """``amount`` of ``currency`` in the base currency (raises FxUnavailable)."""
        return amount * self.rate(currency)

    def try_rate(self, currency: str) -> tuple[float | None, str]:
        """``(rate, "")`` or ``(None, reason)``: for callers that block, not raise."""
        try:
            return self.rate(currency), ""
        except FxUnavailable as exc:
            return None, str(exc)


def fx_for_broker(
    broker: Any,
    clock: Clock,
    *,
    fallback_rates: Mapping[str, float] | None = None,
    fallback_as_of: datetime | None = None,
    max_age_seconds: float = 86_400.0,
    base: str = BASE_CURRENCY,
) -> FxTable:
    """The FxTable for a transport: its own rates, the simulator's, then the fallback."""
    sources: list[FxSource] = []
    if callable(getattr(broker, "get_fx_rate", None)):
        sources.append(BrokerFxSource(broker))
    sim_rates = getattr(getattr(broker, "config", None), "fx_to_base", None)
    if isinstance(sim_rates, Mapping) and getattr(broker.config, "base_currency", base) == base:
        sources.append(SimFxSource(sim_rates, clock))
    if fallback_rates:
        if fallback_as_of is None:
            raise ValueError("a fallback FX table needs its as-of time (fx.fallback_as_of)")
        sources.append(StaticFxSource(fallback_rates, fallback_as_of))
    return FxTable(clock, sources, base=base, max_age_seconds=max_age_seconds)
