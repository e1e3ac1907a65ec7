"""How the ``afx`` command reports input the user got wrong.

Bad input is the user's to fix, not an incident: one line per problem
(``afx: <file>: <where>: <field>: <rule>``), exit code 2, nothing sent, no
traceback and no failure alert. :func:`check_input` judges the settings,
instruments and targets files before Prefect starts (so a typo costs no API
start-up and no flow run); :func:`param_problems` turns a pydantic error on
the flow parameters into the same one-line shape; :func:`quiet_user_errors`
keeps Prefect from logging a traceback for a user error raised inside the
flow (``--verbose`` shows everything).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pydantic import ValidationError

from lib.errors import ConfigError, InputError, UnknownInstrument

__all__ = [
    "USER_ERRORS",
    "check_input",
    "param_problems",
    "print_user_error",
    "quiet_user_errors",
]

#: Errors that mean "the input is wrong": exit 2, no alert, no traceback.
USER_ERRORS: tuple[type[Exception], ...] = (ConfigError, InputError, UnknownInstrument)

#: RebalanceParams field -> the CLI option that sets it.
_OPTION = {
    "targets": "--targets",
    "rebalance_id": "--rebalance-id",
    "schedule_slug": "--schedule-slug",
    "broker": "--broker",
    "settings": "--settings",
    "mode": "--mode",
}


def param_problems(exc: ValidationError) -> list[str]:
    """One line per bad parameter: option, rule and the value given."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "parameters"
        option = _OPTION.get(name, name)
        rule = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch":
            rule = f"must match {err.get('ctx', {}).get('pattern', 'the id rule')}"
        given = err.get("input")
        shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:55] + "...'"
        lines.append(f"bad parameter {option}: {rule} (got {shown})")
    return lines


def print_user_error(exc: BaseException | list[str]) -> None:
    """Every problem on its own ``afx:`` line, then that nothing was sent."""
    lines = exc if isinstance(exc, list) else str(exc).splitlines()
    for line in lines:
        print(f"afx: {line}", file=sys.stderr)
    print("afx: nothing was sent.", file=sys.stderr)


def check_input(params: Any) -> None:
    """Load the settings, instruments and targets files the flow would load
    (same paths); raises ConfigError / InputError on the first file that is
    wrong, listing every problem of that file."""
    from lib.config import load_settings
    from lib.instruments import load_instruments
    from lib.runtime import project_path
    from lib.targets import load_targets

    settings = load_settings(project_path(params.settings))
    registry = load_instruments(project_path(settings.instruments_file))
    load_targets(project_path(params.targets), registry)


class _DropUserErrorTracebacks(logging.Filter):
    """Drops Prefect's ERROR records about a user error (the traceback of the
    failed task and flow, and their "Finished in state Failed(...)" lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, USER_ERRORS):
            return False
        if not record.name.startswith("prefect") or record.levelno < logging.ERROR:
            return True
        message = record.getMessage()
        return not any(f"{t.__name__}: " in message for t in USER_ERRORS)


def quiet_user_errors() -> None:
    """Prefect logs a failed task or flow with its traceback; for a user
    error the CLI's own lines say everything, so drop those records."""
    drop = _DropUserErrorTracebacks()
    for name in ("prefect.task_runs", "prefect.flow_runs", "prefect.engine", "prefect", None):
        logger = logging.getLogger(name)
        logger.addFilter(drop)
        for handler in logger.handlers:
            handler.addFilter(drop)
