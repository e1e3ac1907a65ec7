"""Charts written to files: per rebalance and per day, from the ledger.

Where (under the anchored var folder, :func:`lib.varpaths.var_path`)::

    var/charts/rebalance/<rebalance id>.slippage.png
    var/charts/rebalance/<rebalance id>.progress.png
    var/charts/daily/<YYYY-MM-DD>.png

A rerun of the rebalance (or the day) overwrites its files. Nothing to draw
is not an error: a rebalance without plans (everything skipped, deferred,
dropped, blocked or rejected), an unknown rebalance id or a day without
rebalances give no file
and a :attr:`ChartFiles.note` saying why. A file that cannot be written
raises :class:`lib.errors.ReportingError` naming it; callers on a rebalance's
path (tasks/charts.py) log it and go on: a chart must not fail a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lib.charts.daily import day_figure
from lib.charts.figure import save_png
from lib.charts.rebalance import progress_figure, slippage_figure
from lib.config import load_settings
from lib.daily import DayReport, day_report
from lib.instruments import InstrumentRegistry, load_instruments
from lib.ledger_tca import RebalanceTCA, rebalance_tca
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head
from lib.varpaths import var_path

__all__ = [
    "DEFAULT_CHART_DIR",
    "ChartFiles",
    "chart_dir",
    "daily_chart",
    "daily_chart_from_db",
    "read_ledger",
    "rebalance_chart_paths",
    "rebalance_charts",
    "rebalance_charts_from_db",
    "render_day",
    "render_rebalance",
]

#: Default folder of every chart (under the var folder).
DEFAULT_CHART_DIR = Path("var") / "charts"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class ChartFiles:
    """What was written (absolute paths) and, when nothing was, why."""

    paths: tuple[Path, ...]
    note: str = ""


def chart_dir(out_dir: str | Path | None = None) -> Path:
    """The absolute chart folder (``var/charts`` by default; see module docstring)."""
    return var_path(out_dir if out_dir else DEFAULT_CHART_DIR)


def rebalance_chart_paths(rebalance_id: str, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(slippage, progress) PNG paths of a rebalance; a character outside
    ``[A-Za-z0-9._-]`` in the id becomes ``_`` (never a path separator)."""
    stem = _UNSAFE.sub("_", rebalance_id)
    folder = chart_dir(out_dir) / "rebalance"
    return folder / f"{stem}.slippage.png", folder / f"{stem}.progress.png"


def render_rebalance(t: RebalanceTCA, out_dir: str | Path | None = None) -> ChartFiles:
    """Both pictures of ``t`` (lib/charts/rebalance.py)."""
    if not t.orders:
        return ChartFiles((), f"rebalance {t.rebalance_id} has no plans in the ledger (everything "
                              "skipped, deferred, dropped, blocked or rejected): no chart")
    slip_path, prog_path = rebalance_chart_paths(t.rebalance_id, out_dir)
    return ChartFiles((save_png(slippage_figure(t), slip_path),
                       save_png(progress_figure(t), prog_path)))


def render_day(d: DayReport, out_dir: str | Path | None = None) -> ChartFiles:
    """The day's picture (lib/charts/daily.py)."""
    if not d.rebalances:
        return ChartFiles((), f"no rebalance in the ledger for {d.day.isoformat()}: no chart")
    if not any(r.orders for r in d.rebalances):
        return ChartFiles((), f"the {len(d.rebalances)} rebalance(s) of {d.day.isoformat()} "
                              "have no plans: no chart")
    path = chart_dir(out_dir) / "daily" / f"{d.day.isoformat()}.png"
    return ChartFiles((save_png(day_figure(d), path),))


def rebalance_charts(ledger: LedgerRepository, registry: InstrumentRegistry, rebalance_id: str,
                     out_dir: str | Path | None = None) -> ChartFiles:
    """The rebalance's pictures from the ledger (an unknown id: a note, no file)."""
    if ledger.get_rebalance(rebalance_id) is None:
        return ChartFiles((), f"no rebalance {rebalance_id!r} in the ledger: no chart")
    return render_rebalance(rebalance_tca(ledger, registry, rebalance_id), out_dir)


def daily_chart(ledger: LedgerRepository, registry: InstrumentRegistry, day: date,
                out_dir: str | Path | None = None, *, tz: str = "America/New_York") -> ChartFiles:
    """The day's picture from the ledger (session date ``day``)."""
    return render_day(day_report(ledger, registry, day, tz=tz), out_dir)


@contextmanager
def read_ledger(db_url: str | None, settings_path: str | Path) -> Iterator[
        tuple[LedgerRepository, InstrumentRegistry]]:
    """The ledger (``db_url`` > ``$EXEC_DATABASE_URL`` > var/ledger.sqlite,
    schema ``$EXEC_DATABASE_SCHEMA``) and the instruments of ``settings_path``;
    the engine is disposed on exit."""
    from lib.runtime import ENV_DATABASE_SCHEMA, project_path

    settings = load_settings(project_path(str(settings_path)))
    registry = load_instruments(project_path(settings.instruments_file))
    engine = make_engine(db_url or None, schema=os.environ.get(ENV_DATABASE_SCHEMA) or None)
    try:
        upgrade_to_head(engine)
        yield LedgerRepository(make_session_factory(engine)), registry
    finally:
        engine.dispose()


def rebalance_charts_from_db(rebalance_id: str, *, db_url: str | None = None,
                             settings_path: str | Path = "config/settings.yaml",
                             out_dir: str | Path | None = None) -> ChartFiles:
    """:func:`rebalance_charts` on the ledger :func:`read_ledger` opens."""
    with read_ledger(db_url, settings_path) as (ledger, registry):
        return rebalance_charts(ledger, registry, rebalance_id, out_dir)


def daily_chart_from_db(day: date, *, db_url: str | None = None,
                        settings_path: str | Path = "config/settings.yaml",
                        out_dir: str | Path | None = None,
                        tz: str = "America/New_York") -> ChartFiles:
    """:func:`daily_chart` on the ledger :func:`read_ledger` opens."""
    with read_ledger(db_url, settings_path) as (ledger, registry):
        return daily_chart(ledger, registry, day, out_dir, tz=tz)
