"""The wiring of one rebalance: settings, instruments, clock, broker, ledger.

Built from :class:`lib.params.RebalanceParams` and cached per process, so the
flow's tasks (each a thin wrapper) share one broker session and one ledger
engine. Broker ``sim`` runs on a VirtualClock that starts inside a trading
session (by default the next regular NYSE session at 10:30 New York), with
its state in a file so a rerun in another process meets the same broker;
``ibkr`` uses the wall clock (SystemClock) and real gating.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from lib.brokers.base import BrokerTransport
from lib.calendars import get_market_calendar
from lib.clock import Clock, SystemClock, VirtualClock
from lib.config import Settings, load_settings
from lib.errors import ConfigError
from lib.instruments import InstrumentRegistry, load_instruments
from lib.params import REBALANCE_ID_PATTERN, RebalanceParams
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head
from lib.varpaths import ENV_VAR_DIR, var_path
from lib.varpaths import var_dir as resolve_var_dir

__all__ = [
    "ENV_DATABASE_SCHEMA",
    "ENV_VAR_DIR",
    "Runtime",
    "clear_runtimes",
    "default_sim_start",
    "open_runtime",
    "project_path",
    "trading_date",
]

log = logging.getLogger(__name__)

_NY = ZoneInfo("America/New_York")
#: Minutes after the NYSE open at which a simulated session starts by default.
SIM_START_MINUTES_AFTER_OPEN = 60


@dataclass
class Runtime:
    """Everything the pipeline steps need for one rebalance (one per process)."""

    params: RebalanceParams
    settings: Settings
    registry: InstrumentRegistry
    clock: Clock
    broker: BrokerTransport
    ledger: LedgerRepository
    rebalance_id: str
    var_dir: Path  # runtime files: simulator state, metrics textfiles (absolute)
    ledger_location: str = ""  # the ledger URL, password hidden (logged on every run)


_RUNTIMES: dict[str, Runtime] = {}
_ROOT = Path(__file__).resolve().parent.parent
#: Environment: ledger schema (PostgreSQL) and the folder for runtime files.
ENV_DATABASE_SCHEMA = "EXEC_DATABASE_SCHEMA"


def project_path(path: str) -> Path:
    """A relative path from settings: as given if it exists from the working
    directory, else relative to the project root (so any cwd works)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else _ROOT / p


def default_sim_start(now: datetime) -> datetime:
    """The virtual session the simulator trades for a run started at ``now``:
    the NYSE session of the trading date ``now`` is on (today's in New York,
    whatever the hour: the simulator replays it; on a weekend or holiday the
    most recent session before), at open + SIM_START_MINUTES_AFTER_OPEN
    (10:30 New York on a regular day). So the default id's date, taken from
    this start, is the wall clock's trading date: an afternoon run is filed
    under today, and tomorrow's run gets tomorrow's id."""
    cal = get_market_calendar("NYSE")
    day = now.astimezone(_NY).date()
    for _ in range(15):
        session = cal.session(day)
        if session is not None:
            return session[0] + timedelta(minutes=SIM_START_MINUTES_AFTER_OPEN)
        day -= timedelta(days=1)
    raise ConfigError("calendar", "NYSE", "no session found in the last 15 days")


def trading_date(start: datetime) -> date:
    """The New York date of ``start`` (the date in the default rebalance id)."""
    return start.astimezone(_NY).date()


def _saved_sim_time(path: Path) -> datetime | None:
    if not path.exists():
        return None
    st = json.loads(path.read_text(encoding="utf-8"))["sim"]
    return datetime.fromisoformat(st["epoch"]) + timedelta(seconds=float(st["now_s"]))


def _open_broker(
    params: RebalanceParams, registry: InstrumentRegistry, state: Path,
    session_start: datetime | None = None,
) -> tuple[Clock, BrokerTransport]:
    if params.broker == "ibkr":  # ib_async is imported only on this path
        from lib.brokers.ibkr import open_ibkr

        return open_ibkr(load_settings(project_path(params.settings)).ibkr, registry)
    from lib.sim.presets import make_sim_broker

    saved = _saved_sim_time(state) if params.sim_persist else None
    start = saved or session_start or params.sim_start or default_sim_start(SystemClock().now())
    clock = VirtualClock(start.astimezone(UTC))
    if params.sim_persist:
        state.parent.mkdir(parents=True, exist_ok=True)
    broker = make_sim_broker(
        "demo", clock, seed=params.sim_seed, state_path=state if params.sim_persist else None,
        instruments=registry, symbols=None,
        # exec ids stay unique across in-memory books of different rebalances
        book_id=hashlib.sha256(state.name.encode()).hexdigest()[:8],
    )
    return clock, broker


def open_runtime(
    params: RebalanceParams,
    *,
    database_url: str | None = None,
    database_schema: str | None = None,
) -> Runtime:
    """The process-wide Runtime for ``params`` (created on first use).

    The ledger is ``database_url`` > ``$EXEC_DATABASE_URL`` > var/ledger.sqlite;
    ``database_schema`` selects a PostgreSQL schema (tests).
    """
    database_schema = database_schema or os.environ.get(ENV_DATABASE_SCHEMA) or None
    var_dir = resolve_var_dir()
    key = f"{params.model_dump_json()}|{database_url}|{database_schema}|{var_dir}"
    if key in _RUNTIMES:
        return _RUNTIMES[key]
    settings = load_settings(project_path(params.settings))
    registry = load_instruments(project_path(settings.instruments_file))
    engine = make_engine(database_url, schema=database_schema)
    upgrade_to_head(engine)
    # The id must exist before the broker state path can be named. Its date
    # is the trading date of the run: the wall clock's (ibkr), or the virtual
    # session the simulator starts in (the same start is handed to the
    # broker, so the id and the session traded agree).
    session_start = params.sim_start or default_sim_start(SystemClock().now())
    if params.broker == "ibkr":
        session_start = SystemClock().now()
    rebalance_id = params.rebalance_id or (
        f"{settings.portfolio}-{trading_date(session_start).isoformat()}-{params.schedule_slug}"
    )
    if not re.fullmatch(REBALANCE_ID_PATTERN, rebalance_id):
        raise ConfigError(
            params.settings, "portfolio",
            f"default rebalance id {rebalance_id!r} breaks the id rule {REBALANCE_ID_PATTERN} "
            "(shorten portfolio or schedule_slug, or pass rebalance_id)",
        )
    state = var_path(params.sim_state) if params.sim_state else var_dir / "sim" / f"{rebalance_id}.json"
    clock, broker = _open_broker(params, registry, state, session_start)
    ledger = LedgerRepository(make_session_factory(engine), clock)
    location = engine.url.render_as_string(hide_password=True)
    log.info("rebalance %s: ledger %s, var %s", rebalance_id, location, var_dir)
    rt = Runtime(params, settings, registry, clock, broker, ledger, rebalance_id, var_dir, location)
    _RUNTIMES[key] = rt
    return rt


def clear_runtimes() -> None:
    """Forget cached runtimes (tests; a new process starts empty anyway)."""
    _RUNTIMES.clear()
