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
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

__all__ = [
    "ENV_DATABASE_SCHEMA",
    "ENV_VAR_DIR",
    "Runtime",
    "clear_runtimes",
    "default_sim_start",
    "open_runtime",
    "project_path",
]

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
    var_dir: Path  # runtime files: simulator state, metrics textfiles


_RUNTIMES: dict[str, Runtime] = {}
_ROOT = Path(__file__).resolve().parent.parent
#: Environment: ledger schema (PostgreSQL) and the folder for runtime files.
ENV_DATABASE_SCHEMA = "EXEC_DATABASE_SCHEMA"
ENV_VAR_DIR = "EXEC_VAR_DIR"


def project_path(path: str) -> Path:
    """A relative path from settings: as given if it exists from the working
    directory, else relative to the project root (so any cwd works)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else _ROOT / p


def default_sim_start(now: datetime) -> datetime:
    """The next NYSE session (today's if its mid-morning is still ahead) at
    open + SIM_START_MINUTES_AFTER_OPEN (10:30 New York on a regular day)."""
    cal = get_market_calendar("NYSE")
    day = now.astimezone(_NY).date()
    for _ in range(15):
        session = cal.session(day)
        if session is not None:
            start = session[0] + timedelta(minutes=SIM_START_MINUTES_AFTER_OPEN)
            if start >= now:
                return start
        day += timedelta(days=1)
    raise ConfigError("calendar", "NYSE", "no session found in the next 15 days")


def _saved_sim_time(path: Path) -> datetime | None:
    if not path.exists():
        return None
    st = json.loads(path.read_text(encoding="utf-8"))["sim"]
    return datetime.fromisoformat(st["epoch"]) + timedelta(seconds=float(st["now_s"]))


def _open_broker(params: RebalanceParams, registry: InstrumentRegistry, state: Path) -> tuple[Clock, BrokerTransport]:
    if params.broker == "ibkr":
        raise ConfigError(
            "params", "broker", "the IBKR transport is not available yet (use broker: sim)"
        )
    from lib.sim.presets import make_sim_broker

    saved = _saved_sim_time(state) if params.sim_persist else None
    start = saved or params.sim_start or default_sim_start(SystemClock().now())
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
    var_dir = Path(os.environ.get(ENV_VAR_DIR, "var"))
    key = f"{params.model_dump_json()}|{database_url}|{database_schema}|{var_dir}"
    if key in _RUNTIMES:
        return _RUNTIMES[key]
    settings = load_settings(project_path(params.settings))
    registry = load_instruments(project_path(settings.instruments_file))
    engine = make_engine(database_url, schema=database_schema)
    upgrade_to_head(engine)
    # The id must exist before the broker state path can be named, and the
    # default id needs the session date, hence the wall clock or sim start.
    provisional = params.sim_start or default_sim_start(SystemClock().now())
    if params.broker == "ibkr":
        provisional = SystemClock().now()
    rebalance_id = params.rebalance_id or (
        f"{settings.portfolio}-{provisional.astimezone(_NY).date().isoformat()}-{params.schedule_slug}"
    )
    if not re.fullmatch(REBALANCE_ID_PATTERN, rebalance_id):
        raise ConfigError(
            params.settings, "portfolio",
            f"default rebalance id {rebalance_id!r} breaks the id rule {REBALANCE_ID_PATTERN} "
            "(shorten portfolio or schedule_slug, or pass rebalance_id)",
        )
    state = Path(params.sim_state) if params.sim_state else var_dir / "sim" / f"{rebalance_id}.json"
    clock, broker = _open_broker(params, registry, state)
    ledger = LedgerRepository(make_session_factory(engine), clock)
    rt = Runtime(params, settings, registry, clock, broker, ledger, rebalance_id, var_dir)
    _RUNTIMES[key] = rt
    return rt


def clear_runtimes() -> None:
    """Forget cached runtimes (tests; a new process starts empty anyway)."""
    _RUNTIMES.clear()
