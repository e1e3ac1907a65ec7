"""Where runtime files live: the ``var/`` folder, anchored.

``var/`` holds the SQLite ledger, the kill-switch file, the simulator's state
files and metrics textfiles. It must resolve the same way from any working
directory (an ``afx`` started elsewhere must meet the project's ledger and
honour its ``var/KILL_SWITCH``), so it is never relative to the cwd:

1. ``$EXEC_VAR_DIR`` when set (made absolute against the cwd once, at lookup);
2. else ``<project root>/var`` (the folder holding ``lib/``).

A settings path such as ``var/KILL_SWITCH`` or ``var/sim/x.json`` means "under
the var folder" (:func:`var_path`), so ``EXEC_VAR_DIR`` moves it too; another
relative path is relative to the project root; an absolute path is kept.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR_DIR", "PROJECT_ROOT", "var_dir", "var_path"]

ENV_VAR_DIR = "EXEC_VAR_DIR"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """The absolute var folder (not created here)."""
    env = os.environ.get(ENV_VAR_DIR, "").strip()
    return Path(env).resolve() if env else PROJECT_ROOT / "var"


def var_path(path: str | Path) -> Path:
    """An absolute path for a runtime file named in settings or parameters."""
    p = Path(path)
    if p.is_absolute():
        return p
    if p.parts and p.parts[0] == "var":
        return var_dir().joinpath(*p.parts[1:])
    return PROJECT_ROOT / p
