"""Shared by ``afx history``, ``afx show`` and ``afx report``: open the ledger
read side (``$EXEC_DATABASE_URL`` or var/ledger.sqlite), the instruments,
FX, today's session date, and print JSON.

"Today" for ``--days N`` and ``--until`` is the session date: the New York
date of the clock's now (:func:`lib.runtime.trading_date`, the date in the
default rebalance id and in the ledger's ``session_date``), not the machine's
local date: at 22:00 New York a UTC machine is already on tomorrow."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from lib.clock import Clock, SystemClock
from lib.config import load_settings
from lib.fx import FxTable, StaticFxSource
from lib.instruments import InstrumentRegistry, load_instruments
from lib.ledger_tca import FxRate
from lib.runtime import ENV_DATABASE_SCHEMA, project_path, trading_date
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head

__all__ = ["add_common", "open_ledger", "positive_int", "print_json", "session_today", "to_jsonable"]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def session_today(clock: Clock | None = None) -> date:
    """Today's session date: the New York date of ``clock.now()`` (SystemClock by default)."""
    return trading_date((clock or SystemClock()).now())


def add_common(p: Any) -> None:
    p.add_argument("--settings", default="config/settings.yaml",
                   help="settings.yaml (instruments, FX fallback) (default: %(default)s)")
    p.add_argument("--json", action="store_true",
                   help="print JSON instead of tables, for scripts (default: tables)")


def open_ledger(settings_path: str) -> tuple[LedgerRepository, InstrumentRegistry, FxRate]:
    settings = load_settings(project_path(settings_path))
    registry = load_instruments(project_path(settings.instruments_file))
    engine = make_engine(schema=os.environ.get(ENV_DATABASE_SCHEMA) or None)
    upgrade_to_head(engine)
    fx = settings.fx
    sources = ([StaticFxSource(fx.fallback_rates, fx.fallback_as_of)]
               if fx.fallback_rates and fx.fallback_as_of else [])
    table = FxTable(SystemClock(), sources, max_age_seconds=fx.max_age_seconds)
    return LedgerRepository(make_session_factory(engine)), registry, table.try_rate


def to_jsonable(x: Any) -> Any:
    if is_dataclass(x) and not isinstance(x, type):
        return {f.name: to_jsonable(getattr(x, f.name)) for f in fields(x)}
    if isinstance(x, dict) or hasattr(x, "items"):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [to_jsonable(v) for v in x]
    if isinstance(x, datetime | date):
        return x.isoformat()
    if isinstance(x, Enum):
        return x.value
    return x


def print_json(x: Any) -> None:
    print(json.dumps(to_jsonable(x), indent=2, sort_keys=True))
