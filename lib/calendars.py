"""Exchange sessions over ``pandas_market_calendars`` (pmc).

No holiday table is written here: holidays, early closes and DST all come from
pmc. All timestamps in and out are tz-aware UTC (a naive timestamp raises
``ValueError``; any other tz-aware timestamp is converted to UTC). Minute
windows (``avoid_first_minutes_after_open`` / ``avoid_last_minutes_before_close``)
come from :class:`lib.config.ExecutionConfig`.

Performance: pmc's ``schedule()`` costs tens of milliseconds, so each calendar
builds the schedule once per calendar year and keeps it as a plain dict
``date -> (open_utc, close_utc)``; every lookup after that is a dict access
(about a microsecond).

Session phases (:class:`lib.types.SessionPhase`), for instant ``ts``:

- inside a session ``[open, close)``: OPENING during the first
  ``avoid_first_minutes_after_open``, CLOSING during the last
  ``avoid_last_minutes_before_close``, REGULAR otherwise;
- outside every session, judged on the exchange-local date of ``ts``: CLOSED
  if that date has no session (weekend, holiday), PRE_OPEN before its open,
  AFTER_CLOSE after its close.

CME futures (``CME_Equity``, ``CME_Currency``): pmc keys each session by its
trade date and opens it the previous evening (17:00 America/Chicago, e.g.
23:00 UTC in winter) until the trade date's close (16:00 Chicago; earlier on
holidays). The schedule is used exactly as pmc gives it (``market_open`` /
``market_close``): the OPENING window therefore follows the *Globex evening
reopen*, not the 08:30 Chicago pit-hours open, and the one-hour daily
maintenance halt between close and reopen is AFTER_CLOSE. pmc 5.5 reports a
zero-length ``break_start``/``break_end`` for CME_Equity; breaks are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pandas_market_calendars as pmc

from lib.config import ExecutionConfig
from lib.errors import CalendarError
from lib.types import SessionPhase

__all__ = [
    "CALENDAR_ALIASES",
    "MarketCalendar",
    "get_market_calendar",
    "get_session_phase",
    "resolve_calendar_name",
    "should_avoid_trading",
]

#: Accepted names (upper-cased) -> the pmc calendar name used. Exchange codes of
#: config/instruments.yaml (ARCA, EUREX, CME) resolve as well as calendar names.
CALENDAR_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "NYSE": "NYSE",
        "ARCA": "NYSE",  # NYSE Arca follows the NYSE holiday calendar and hours
        "NASDAQ": "NASDAQ",
        "LSE": "LSE",
        "XLON": "LSE",
        "XETR": "XETR",
        "XETRA": "XETR",
        "EUREX": "EUREX",  # pmc 5.5 has a real EUREX calendar (07:00-21:00 UTC, winter)
        "CME": "CME_Equity",
        "CME_EQUITY": "CME_Equity",
        "CME_CURRENCY": "CME_Currency",
    }
)

# Furthest next_tradable_window looks ahead; no exchange closes for a year.
_MAX_LOOKAHEAD_DAYS = 370

_Session = tuple[datetime, datetime]


def resolve_calendar_name(name: str) -> str:
    """The pmc calendar name for an exchange or calendar name (case-insensitive)."""
    try:
        return CALENDAR_ALIASES[name.strip().upper()]
    except KeyError:
        known = ", ".join(sorted(CALENDAR_ALIASES))
        raise CalendarError(f"unknown exchange/calendar {name!r} (known: {known})") from None


def _as_utc(ts: datetime) -> datetime:
    if not isinstance(ts, datetime):
        raise ValueError(f"expected a tz-aware datetime, got {ts!r}")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"naive timestamp {ts.isoformat()}: pass a tz-aware UTC datetime")
    return ts.astimezone(UTC)


class MarketCalendar:
    """Sessions of one exchange calendar, cached per year.

    ``name`` is any key of :data:`CALENDAR_ALIASES`; :attr:`name` holds the
    resolved pmc name.
    """

    def __init__(self, name: str) -> None:
        self.name = resolve_calendar_name(name)
        try:
            self._cal = pmc.get_calendar(self.name)
        except Exception as exc:  # pmc raises RuntimeError/KeyError for unknown names
            raise CalendarError(f"pandas_market_calendars has no calendar {self.name!r}") from exc
        self.tz = ZoneInfo(str(self._cal.tz))
        self._sessions: dict[date, _Session] = {}
        self._early: set[date] = set()
        self._years: set[int] = set()

    def __repr__(self) -> str:
        return f"MarketCalendar({self.name!r})"

    # -- schedule cache -------------------------------------------------------------

    def _load_year(self, year: int) -> None:
        """Build the dict for one calendar year from pmc (once per year)."""
        try:
            sched = self._cal.schedule(start_date=f"{year}-01-01", end_date=f"{year}-12-31")
            early = self._cal.early_closes(sched)
        except Exception as exc:  # pmc/pandas errors become the one error tree
            raise CalendarError(f"{self.name}: schedule for {year} failed: {exc}") from exc
        for day, open_, close in zip(
            sched.index, sched["market_open"], sched["market_close"], strict=True
        ):
            self._sessions[day.date()] = (
                open_.to_pydatetime().astimezone(UTC),
                close.to_pydatetime().astimezone(UTC),
            )
        self._early.update(day.date() for day in early.index)
        self._years.add(year)

    def _ensure_year(self, year: int) -> None:
        if year not in self._years:
            self._load_year(year)

    # -- day queries ----------------------------------------------------------------

    def session(self, day: date) -> _Session | None:
        """``(open_utc, close_utc)`` of the session whose trade date is ``day``;
        None on weekends and holidays. For CME the open is the previous evening."""
        if isinstance(day, datetime):
            raise ValueError("session() takes a date (the trade date), not a datetime")
        self._ensure_year(day.year)
        return self._sessions.get(day)

    def is_early_close(self, day: date) -> bool:
        """True when pmc marks ``day`` as closing earlier than the regular close."""
        if isinstance(day, datetime):
            raise ValueError("is_early_close() takes a date, not a datetime")
        self._ensure_year(day.year)
        return day in self._early

    # -- instant queries ------------------------------------------------------------

    def _containing(self, ts: datetime) -> _Session | None:
        """The session with ``open <= ts < close`` (ts in UTC), if any.

        Sessions never overlap and none is longer than a day, so the trade
        dates around the UTC date of ``ts`` cover every case (CME opens the
        evening before its trade date)."""
        d = ts.date()
        for day in (d, d + timedelta(days=1), d - timedelta(days=1)):
            s = self.session(day)
            if s is not None and s[0] <= ts < s[1]:
                return s
        return None

    def is_open(self, ts: datetime) -> bool:
        """True when ``ts`` lies inside a session (open inclusive, close exclusive)."""
        return self._containing(_as_utc(ts)) is not None

    def _phase(self, t: datetime, cfg: ExecutionConfig) -> tuple[SessionPhase, _Session | None]:
        """The phase at UTC ``t`` and the session it refers to (None if CLOSED)."""
        s = self._containing(t)
        if s is not None:
            open_, close = s
            if t < open_ + timedelta(minutes=cfg.avoid_first_minutes_after_open):
                return SessionPhase.OPENING, s
            if t >= close - timedelta(minutes=cfg.avoid_last_minutes_before_close):
                return SessionPhase.CLOSING, s
            return SessionPhase.REGULAR, s
        today = self.session(t.astimezone(self.tz).date())
        if today is None:
            return SessionPhase.CLOSED, None
        phase = SessionPhase.PRE_OPEN if t < today[0] else SessionPhase.AFTER_CLOSE
        return phase, today

    def session_phase(self, ts: datetime, config: ExecutionConfig | None = None) -> SessionPhase:
        """Where the exchange is at ``ts`` (see the module docstring for the rules)."""
        cfg = config if config is not None else ExecutionConfig()
        return self._phase(_as_utc(ts), cfg)[0]

    def should_avoid_trading(
        self, ts: datetime, config: ExecutionConfig | None = None
    ) -> tuple[bool, str]:
        """``(avoid, reason)``: trade only in the REGULAR phase."""
        cfg = config if config is not None else ExecutionConfig()
        t = _as_utc(ts)
        phase, s = self._phase(t, cfg)
        if phase is SessionPhase.REGULAR:
            return False, f"{self.name}: regular session"
        if s is None:  # CLOSED
            return True, f"{self.name}: closed (no session on {t.astimezone(self.tz).date()})"
        open_, close = s
        early = " (early close)" if self._is_early_session(s) else ""
        if phase is SessionPhase.PRE_OPEN:
            return True, f"{self.name}: before the open at {open_:%H:%M} UTC"
        if phase is SessionPhase.AFTER_CLOSE:
            return True, f"{self.name}: after the close at {close:%H:%M} UTC{early}"
        if phase is SessionPhase.OPENING:
            return True, (
                f"{self.name}: within {cfg.avoid_first_minutes_after_open:g} min after the "
                f"open at {open_:%H:%M} UTC"
            )
        return True, (
            f"{self.name}: within {cfg.avoid_last_minutes_before_close:g} min before the "
            f"close at {close:%H:%M} UTC{early}"
        )

    def _is_early_session(self, s: _Session) -> bool:
        # The close always falls on the trade date in exchange-local time
        # (CME opens the evening before, but closes on the trade date).
        return self.is_early_close(s[1].astimezone(self.tz).date())

    def next_tradable_window(
        self, ts: datetime, config: ExecutionConfig | None = None
    ) -> tuple[datetime, datetime]:
        """The next ``[open + avoid_first, close - avoid_last]`` interval that is
        not over at ``ts``; when ``ts`` is inside one, it starts at ``ts``.
        Sessions too short to hold a window (both avoid windows overlap) are
        skipped. Raises CalendarError if none within a year."""
        cfg = config if config is not None else ExecutionConfig()
        t = _as_utc(ts)
        first = timedelta(minutes=cfg.avoid_first_minutes_after_open)
        last = timedelta(minutes=cfg.avoid_last_minutes_before_close)
        day = t.date() - timedelta(days=1)  # a CME session for tomorrow opens today
        for _ in range(_MAX_LOOKAHEAD_DAYS):
            s = self.session(day)
            day += timedelta(days=1)
            if s is None:
                continue
            start, end = s[0] + first, s[1] - last
            if start >= end or end <= t:
                continue
            return max(start, t), end
        raise CalendarError(f"{self.name}: no tradable window within {_MAX_LOOKAHEAD_DAYS} days")


_CALENDARS: dict[str, MarketCalendar] = {}


def get_market_calendar(name: str) -> MarketCalendar:
    """A shared, cached :class:`MarketCalendar` (one per pmc calendar)."""
    canonical = resolve_calendar_name(name)
    cal = _CALENDARS.get(canonical)
    if cal is None:
        cal = _CALENDARS[canonical] = MarketCalendar(canonical)
    return cal


def should_avoid_trading(
    ts: datetime, exchange: str, config: ExecutionConfig | None = None
) -> tuple[bool, str]:
    """The seed's helper: ``(avoid, reason)`` for ``exchange`` at ``ts``."""
    return get_market_calendar(exchange).should_avoid_trading(ts, config)


def get_session_phase(
    ts: datetime, exchange: str, config: ExecutionConfig | None = None
) -> SessionPhase:
    """The seed's helper: the :class:`SessionPhase` of ``exchange`` at ``ts``."""
    return get_market_calendar(exchange).session_phase(ts, config)
