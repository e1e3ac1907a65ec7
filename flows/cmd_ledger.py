"""Shared by ``afx history``, ``afx show`` and ``afx report``: open the ledger
read side (``$EXEC_DATABASE_URL`` or var/ledger.sqlite), the instruments,
FX, and print JSON."""

from __future__ import annotations

import json
import os
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from lib.clock import SystemClock
from lib.config import load_settings
from lib.fx import FxTable, StaticFxSource
from lib.instruments import InstrumentRegistry, load_instruments
from lib.ledger_tca import FxRate
from lib.runtime import ENV_DATABASE_SCHEMA, project_path
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head

__all__ = ["add_common", "open_ledger", "print_json", "to_jsonable"]


def add_common(p: Any) -> None:
    p.add_argument("--settings", default="config/settings.yaml",
                   help="settings.yaml (instruments, FX fallback) (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables (for scripts)")


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
