"""Tasks of the daily summary flow: each calls one lib function."""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE

from lib.clock import SystemClock
from lib.config import load_settings
from lib.daily import CHANNELS, DayReport, day_report, format_daily
from lib.fx import FxTable, StaticFxSource
from lib.instruments import load_instruments
from lib.runtime import ENV_DATABASE_SCHEMA, project_path
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head
from tasks.alerts import notifier
from tasks.runlog import run_log

__all__ = ["build_day_report", "resolve_day", "send_day_report"]

_STEP: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


def resolve_day(day: date | str | None, tz: str) -> date:
    """``day`` (a date or ISO text) or today in ``tz`` (the deployment runs after the close)."""
    if isinstance(day, str):
        return date.fromisoformat(day)
    return day if day is not None else datetime.now(ZoneInfo(tz)).date()


@task(name="build-day-report", **_STEP)
def build_day_report(day: date, settings_path: str, tz: str) -> DayReport:
    settings = load_settings(project_path(settings_path))
    registry = load_instruments(project_path(settings.instruments_file))
    engine = make_engine(schema=os.environ.get(ENV_DATABASE_SCHEMA) or None)
    upgrade_to_head(engine)
    ledger = LedgerRepository(make_session_factory(engine))
    fx = settings.fx
    sources = ([StaticFxSource(fx.fallback_rates, fx.fallback_as_of)]
               if fx.fallback_rates and fx.fallback_as_of else [])
    table = FxTable(SystemClock(), sources, max_age_seconds=fx.max_age_seconds)
    try:
        return day_report(ledger, registry, day, fx_rate=table.try_rate, tz=tz)
    finally:
        engine.dispose()


@task(name="send-day-report", **_STEP)
def send_day_report(report: DayReport) -> dict[str, bool]:
    """Each channel gets its own format; returns channel -> delivered."""
    out: dict[str, bool] = {}
    for channel in CHANNELS:
        n = notifier(channel, log=run_log())
        if not n.destinations:
            continue
        out[channel] = n.send(format_daily(report, channel)).sent
    return out
