"""Quarterly futures expiries: one rule shared by the IBKR transport (which
asks IB for the front contract month) and the simulated gateway (which
serves it), so the two can never disagree on which contract is the front.

Equity index futures (ES, MES, FESX) expire on the third Friday of March,
June, September and December; CME FX futures (6E) two days before the third
Wednesday. A contract is rolled ``roll_days`` calendar days before expiry.
"""

from __future__ import annotations

from datetime import date, timedelta

from lib.types import AssetClass

__all__ = ["QUARTERLY_MONTHS", "ROLL_DAYS", "front_quarterly_expiry"]

QUARTERLY_MONTHS = (3, 6, 9, 12)
#: Calendar days before expiry at which the front contract rolls to the next.
ROLL_DAYS = 8


def _third_weekday(year: int, month: int, weekday: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    return d + timedelta(days=14)


def front_quarterly_expiry(asset_class: AssetClass, today: date, roll_days: int = ROLL_DAYS) -> date:
    """Expiry date of the front quarterly contract on ``today``."""
    y, m = today.year, today.month
    for _ in range(15):
        if m in QUARTERLY_MONTHS:
            if asset_class is AssetClass.FX_FUT:
                expiry = _third_weekday(y, m, 2) - timedelta(days=2)
            else:
                expiry = _third_weekday(y, m, 4)
            if expiry - timedelta(days=roll_days) > today:
                return expiry
        m += 1
        if m > 12:
            y, m = y + 1, 1
    raise AssertionError("no quarterly expiry within a year")  # pragma: no cover
