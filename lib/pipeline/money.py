"""The rebalance's money context: FX to the base currency, NAV and buying power.

The FxTable is built per runtime from the broker (its own rates, or the
simulator's) and the settings' fallback table (``fx:``); rates are checked for
staleness on the runtime's clock at every use.
"""

from __future__ import annotations

from collections.abc import Iterable

from lib.fx import FxTable, fx_for_broker
from lib.runtime import Runtime

__all__ = ["buying_power", "fx_table", "rates_for"]

_TABLES: dict[int, FxTable] = {}


def fx_table(rt: Runtime) -> FxTable:
    """The runtime's FxTable (one per runtime)."""
    table = _TABLES.get(id(rt))
    if table is None or table.clock is not rt.clock:
        cfg = rt.settings.fx
        table = fx_for_broker(
            rt.broker, rt.clock, fallback_rates=cfg.fallback_rates,
            fallback_as_of=cfg.fallback_as_of, max_age_seconds=cfg.max_age_seconds,
            base=rt.settings.base_currency,
        )
        _TABLES[id(rt)] = table
    return table


def rates_for(rt: Runtime, symbols: Iterable[str]) -> dict[str, float]:
    """Currency -> base rate for the symbols' currencies that have a usable
    rate now (a missing one is left out: risk blocks its orders, with why)."""
    fx = fx_table(rt)
    out: dict[str, float] = {}
    for ccy in {rt.registry[s].currency for s in symbols if s in rt.registry}:
        rate, _ = fx.try_rate(ccy)
        if rate is not None:
            out[ccy] = rate
    return out


def buying_power(rt: Runtime) -> float | None:
    """The broker's buying power (base currency) where it reports one."""
    get = getattr(rt.broker, "get_buying_power", None)
    if not callable(get):
        return None
    value = get()
    return None if value is None else float(value)
