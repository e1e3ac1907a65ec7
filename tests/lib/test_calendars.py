"""Exchange sessions from pandas_market_calendars: hours, holidays, early
closes, DST, phases, tradable windows, CME overnight sessions, caching.

Default windows: 15 min after the open and 10 min before the close are avoided.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from lib.calendars import (
    MarketCalendar,
    get_market_calendar,
    get_session_phase,
    should_avoid_trading,
)
from lib.config import ExecutionConfig
from lib.errors import CalendarError
from lib.types import SessionPhase

CFG = ExecutionConfig()  # avoid_first_minutes_after_open=15, avoid_last_minutes_before_close=10


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


@pytest.fixture(scope="module")
def nyse() -> MarketCalendar:
    return get_market_calendar("NYSE")


class TestMarketCalendar:
    def test_us_market_hours(self, nyse: MarketCalendar) -> None:
        # Tuesday 2026-11-24, New York on EST: 09:30-16:00 = 14:30-21:00 UTC.
        assert nyse.session(date(2026, 11, 24)) == (
            utc(2026, 11, 24, 14, 30),
            utc(2026, 11, 24, 21),
        )
        assert nyse.is_open(utc(2026, 11, 24, 15, 30))
        assert nyse.is_open(utc(2026, 11, 24, 14, 30))  # open is inclusive
        assert not nyse.is_open(utc(2026, 11, 24, 14, 29, 59))
        assert not nyse.is_open(utc(2026, 11, 24, 21))  # close is exclusive
        assert nyse.session_phase(utc(2026, 11, 24, 15, 30), CFG) is SessionPhase.REGULAR
        assert nyse.session_phase(utc(2026, 11, 24, 12), CFG) is SessionPhase.PRE_OPEN
        assert nyse.session_phase(utc(2026, 11, 24, 21, 30), CFG) is SessionPhase.AFTER_CLOSE
        assert should_avoid_trading(utc(2026, 11, 24, 15, 30), "NYSE", CFG) == (
            False,
            "NYSE: regular session",
        )

    def test_market_closed_weekend(self, nyse: MarketCalendar) -> None:
        sat = utc(2026, 11, 28, 16)
        assert nyse.session(date(2026, 11, 28)) is None
        assert nyse.session(date(2026, 11, 29)) is None
        assert not nyse.is_open(sat)
        assert nyse.session_phase(sat, CFG) is SessionPhase.CLOSED
        avoid, reason = should_avoid_trading(sat, "NYSE", CFG)
        assert avoid and "closed" in reason and "2026-11-28" in reason

    def test_avoid_near_open(self, nyse: MarketCalendar) -> None:
        assert get_session_phase(utc(2026, 11, 24, 14, 40), "NYSE", CFG) is SessionPhase.OPENING
        avoid, reason = should_avoid_trading(utc(2026, 11, 24, 14, 40), "NYSE", CFG)
        assert avoid and "15 min after the open at 14:30 UTC" in reason
        assert nyse.session_phase(utc(2026, 11, 24, 14, 44, 59), CFG) is SessionPhase.OPENING
        assert nyse.session_phase(utc(2026, 11, 24, 14, 45), CFG) is SessionPhase.REGULAR
        # And near the close: the last 10 minutes, 20:50-21:00 UTC.
        assert nyse.session_phase(utc(2026, 11, 24, 20, 49, 59), CFG) is SessionPhase.REGULAR
        assert nyse.session_phase(utc(2026, 11, 24, 20, 50), CFG) is SessionPhase.CLOSING
        # A wider configured window moves the boundary.
        wide = ExecutionConfig(avoid_first_minutes_after_open=30)
        assert nyse.session_phase(utc(2026, 11, 24, 14, 50), wide) is SessionPhase.OPENING
        assert nyse.session_phase(utc(2026, 11, 24, 15), wide) is SessionPhase.REGULAR

    def test_early_close_day_after_thanksgiving(self, nyse: MarketCalendar) -> None:
        # NYSE closes 13:00 New York = 18:00 UTC on Friday 2026-11-27 (from pmc).
        assert nyse.session(date(2026, 11, 27)) == (
            utc(2026, 11, 27, 14, 30),
            utc(2026, 11, 27, 18),
        )
        assert nyse.is_early_close(date(2026, 11, 27))
        assert not nyse.is_early_close(date(2026, 11, 25))
        assert nyse.session_phase(utc(2026, 11, 27, 17, 49), CFG) is SessionPhase.REGULAR
        assert nyse.session_phase(utc(2026, 11, 27, 17, 55), CFG) is SessionPhase.CLOSING
        assert nyse.session_phase(utc(2026, 11, 27, 18, 30), CFG) is SessionPhase.AFTER_CLOSE
        avoid, reason = nyse.should_avoid_trading(utc(2026, 11, 27, 17, 55), CFG)
        assert avoid and "18:00 UTC (early close)" in reason

    def test_holiday_thanksgiving(self, nyse: MarketCalendar) -> None:
        assert nyse.session(date(2026, 11, 26)) is None
        assert nyse.session_phase(utc(2026, 11, 26, 16), CFG) is SessionPhase.CLOSED
        assert get_market_calendar("NASDAQ").session(date(2026, 11, 26)) is None
        # London trades on US Thanksgiving.
        lse = get_market_calendar("LSE")
        assert lse.session(date(2026, 11, 26)) == (utc(2026, 11, 26, 8), utc(2026, 11, 26, 16, 30))

    def test_lse_and_xetr_hours(self) -> None:
        for name in ("LSE", "XETR"):
            cal = get_market_calendar(name)
            # 08:00-16:30 local: GMT/CET in January, BST/CEST in July.
            assert cal.session(date(2026, 1, 5)) == (utc(2026, 1, 5, 8), utc(2026, 1, 5, 16, 30))
            assert cal.session(date(2026, 7, 1)) == (utc(2026, 7, 1, 7), utc(2026, 7, 1, 15, 30))
        # LSE half-day on Christmas Eve: closes 12:30 London.
        lse = get_market_calendar("LSE")
        assert lse.is_early_close(date(2026, 12, 24))
        assert lse.session(date(2026, 12, 24)) == (utc(2026, 12, 24, 8), utc(2026, 12, 24, 12, 30))

    def test_aliases(self) -> None:
        assert get_market_calendar("XETRA") is get_market_calendar("XETR")
        assert get_market_calendar("xetra").name == "XETR"
        assert get_market_calendar("ARCA") is get_market_calendar("NYSE")
        assert get_market_calendar("CME").name == "CME_Equity"
        assert get_market_calendar("CME_Currency").name == "CME_Currency"
        eurex = get_market_calendar("EUREX")
        assert eurex.session(date(2026, 1, 5)) == (utc(2026, 1, 5, 7), utc(2026, 1, 5, 21))
        with pytest.raises(CalendarError, match="unknown exchange"):
            get_market_calendar("TSE")

    def test_dst_transitions(self, nyse: MarketCalendar) -> None:
        # US clocks change 2026-03-08 and 2026-11-01; Europe on 2026-03-29 and 2026-10-25.
        assert nyse.session(date(2026, 3, 6))[0] == utc(2026, 3, 6, 14, 30)  # type: ignore[index]
        assert nyse.session(date(2026, 3, 9))[0] == utc(2026, 3, 9, 13, 30)  # type: ignore[index]
        assert nyse.session(date(2026, 10, 30))[0] == utc(2026, 10, 30, 13, 30)  # type: ignore[index]
        assert nyse.session(date(2026, 11, 2))[0] == utc(2026, 11, 2, 14, 30)  # type: ignore[index]
        # In the gap weeks London has not moved yet: still 08:00 UTC.
        assert get_market_calendar("LSE").session(date(2026, 3, 20))[0] == utc(2026, 3, 20, 8)  # type: ignore[index]
        # The summer open is REGULAR at 13:50 UTC, the winter one is still pre-open.
        assert nyse.session_phase(utc(2026, 7, 1, 13, 50), CFG) is SessionPhase.REGULAR
        assert nyse.session_phase(utc(2026, 12, 1, 13, 50), CFG) is SessionPhase.PRE_OPEN

    def test_next_tradable_window(self, nyse: MarketCalendar) -> None:
        # Inside a window: it starts now.
        now = utc(2026, 11, 24, 16)
        assert nyse.next_tradable_window(now, CFG) == (now, utc(2026, 11, 24, 20, 50))
        # Before the open: today's window.
        assert nyse.next_tradable_window(utc(2026, 11, 24, 12), CFG) == (
            utc(2026, 11, 24, 14, 45),
            utc(2026, 11, 24, 20, 50),
        )
        # Over a weekend: Friday's closing minutes -> Monday.
        monday = (utc(2026, 11, 23, 14, 45), utc(2026, 11, 23, 20, 50))
        assert nyse.next_tradable_window(utc(2026, 11, 20, 20, 55), CFG) == monday
        assert nyse.next_tradable_window(utc(2026, 11, 21, 12), CFG) == monday
        # Over Thanksgiving to the half day: Friday 14:45-17:50 UTC.
        assert nyse.next_tradable_window(utc(2026, 11, 25, 21), CFG) == (
            utc(2026, 11, 27, 14, 45),
            utc(2026, 11, 27, 17, 50),
        )
        # Over New Year (holiday + weekend) into the next year's schedule.
        assert nyse.next_tradable_window(utc(2026, 12, 31, 21, 30), CFG) == (
            utc(2027, 1, 4, 14, 45),
            utc(2027, 1, 4, 20, 50),
        )

    def test_cme_overnight_session(self) -> None:
        cme = get_market_calendar("CME_Equity")
        # Trade date Tue 2026-11-24 opens Mon 17:00 Chicago (23:00 UTC).
        assert cme.session(date(2026, 11, 24)) == (utc(2026, 11, 23, 23), utc(2026, 11, 24, 22))
        assert cme.session_phase(utc(2026, 11, 23, 23, 5), CFG) is SessionPhase.OPENING
        assert cme.session_phase(utc(2026, 11, 24, 3), CFG) is SessionPhase.REGULAR
        assert cme.session_phase(utc(2026, 11, 24, 21, 55), CFG) is SessionPhase.CLOSING
        assert cme.session_phase(utc(2026, 11, 24, 22, 30), CFG) is SessionPhase.AFTER_CLOSE
        assert cme.session_phase(utc(2026, 11, 22, 12), CFG) is SessionPhase.CLOSED  # Sunday
        assert cme.session_phase(utc(2026, 11, 22, 23, 30), CFG) is SessionPhase.REGULAR
        assert cme.next_tradable_window(utc(2026, 11, 24, 22, 30), CFG) == (
            utc(2026, 11, 24, 23, 15),
            utc(2026, 11, 25, 21, 50),
        )
        # FX futures: early close 12:15 Chicago on 2026-11-27.
        fx = get_market_calendar("CME_Currency")
        assert fx.is_early_close(date(2026, 11, 27))
        assert fx.session(date(2026, 11, 27)) == (utc(2026, 11, 26, 23), utc(2026, 11, 27, 18, 15))

    def test_timestamps_must_be_aware(self, nyse: MarketCalendar) -> None:
        with pytest.raises(ValueError, match="naive"):
            nyse.is_open(datetime(2026, 11, 24, 15, 30))  # noqa: DTZ001
        with pytest.raises(ValueError, match="naive"):
            should_avoid_trading(datetime(2026, 11, 24, 15, 30), "NYSE", CFG)  # noqa: DTZ001
        with pytest.raises(ValueError, match="date"):
            nyse.session(utc(2026, 11, 24))
        # Another zone is converted: 09:45 New York = 14:45 UTC.
        ny = datetime(2026, 11, 24, 9, 45, tzinfo=ZoneInfo("America/New_York"))
        assert nyse.session_phase(ny, CFG) is SessionPhase.REGULAR
        start, _ = nyse.next_tradable_window(ny, CFG)
        assert start == utc(2026, 11, 24, 14, 45) and start.tzinfo is UTC

    def test_schedule_cached_per_year(self, monkeypatch: pytest.MonkeyPatch) -> None:
        cal = MarketCalendar("NYSE")
        calls: list[str] = []
        real = cal._cal.schedule

        def spy(*args: object, **kwargs: object) -> object:
            calls.append(str(kwargs.get("start_date")))
            return real(*args, **kwargs)

        monkeypatch.setattr(cal._cal, "schedule", spy)
        for day in range(1, 31):
            cal.session(date(2026, 11, day))
            cal.session_phase(utc(2026, 11, day, 15), CFG)
        cal.next_tradable_window(utc(2026, 12, 31, 21, 30), CFG)
        assert calls == ["2026-01-01", "2027-01-01"]
