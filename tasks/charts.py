"""Chart tasks: each calls one lib.charts function and returns the paths
written (strings: serialisable, for an artifact or the flow's return).

A chart is reporting, not execution: a file that cannot be written or a
ledger that cannot be read is logged at WARNING and the task returns what it
has (``[]`` / ``None``) instead of failing the run. Nothing to draw (no
plans: everything deferred or blocked; a day without rebalances) is logged
at INFO.

``db_url`` None means what the rebalance's own tasks use
(``$EXEC_DATABASE_URL``, else var/ledger.sqlite); ``out_dir`` None means
``var/charts`` under the anchored var folder (lib/charts/render.py).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from lib.charts import daily_chart_from_db, rebalance_charts_from_db
from lib.errors import LedgerError, ReportingError

__all__ = ["render_daily_chart", "render_rebalance_charts"]

_STEP: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run logger inside a Prefect run (the UI's Logs tab), else this module's."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


@task(name="render-rebalance-charts", **_STEP)
def render_rebalance_charts(
    rebalance_id: str,
    db_url: str | None = None,
    out_dir: str | None = None,
    settings_path: str = "config/settings.yaml",
) -> list[str]:
    """The rebalance's slippage and fill-progress PNGs; the paths written."""
    log = _logger()
    try:
        res = rebalance_charts_from_db(rebalance_id, db_url=db_url, settings_path=settings_path,
                                       out_dir=out_dir)
    except (ReportingError, LedgerError) as exc:
        log.warning("charts of rebalance %s not written: %s", rebalance_id, exc)
        return []
    if res.note:
        log.info("%s", res.note)
    for p in res.paths:
        log.info("chart written: %s", p)
    return [str(p) for p in res.paths]


@task(name="render-daily-chart", **_STEP)
def render_daily_chart(
    day: str,
    db_url: str | None = None,
    out_dir: str | None = None,
    settings_path: str = "config/settings.yaml",
    tz: str = "America/New_York",
) -> str | None:
    """The day's PNG (``day`` an ISO date, the session date); its path, or None."""
    log = _logger()
    try:
        res = daily_chart_from_db(date.fromisoformat(day), db_url=db_url,
                                  settings_path=settings_path, out_dir=out_dir, tz=tz)
    except (ReportingError, LedgerError) as exc:
        log.warning("daily chart of %s not written: %s", day, exc)
        return None
    if res.note:
        log.info("%s", res.note)
    for p in res.paths:
        log.info("chart written: %s", p)
    return str(res.paths[0]) if res.paths else None
