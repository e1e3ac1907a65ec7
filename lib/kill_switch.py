"""Kill switches: something an operator can flip to stop all trading.

:class:`KillSwitch` is the protocol (``is_engaged() -> (engaged, reason)``);
:class:`FileKillSwitch` is engaged while a file exists, :class:`StaticKillSwitch`
is fixed (tests), :class:`AnyKillSwitch` combines several. Re-exported by
:mod:`lib.risk`, whose pre-trade controls check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["AnyKillSwitch", "FileKillSwitch", "KillSwitch", "StaticKillSwitch"]


@runtime_checkable
class KillSwitch(Protocol):
    """Something an operator can flip to stop all trading (Prefect-free)."""

    def is_engaged(self) -> tuple[bool, str]:
        """``(engaged, reason)``; reason is "" when not engaged."""
        ...


class FileKillSwitch:
    """Engaged while ``path`` exists; the reason is the file's text.

    An existing but unreadable file still engages the switch (fail closed).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def is_engaged(self) -> tuple[bool, str]:
        if not self.path.exists():
            return False, ""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError as exc:
            return True, f"kill switch file {self.path} exists (unreadable: {exc.strerror})"
        return True, text or f"kill switch file {self.path} exists"


@dataclass(frozen=True, slots=True)
class StaticKillSwitch:
    """A fixed switch: the null version (never engaged) by default, for tests."""

    engaged: bool = False
    reason: str = ""

    def is_engaged(self) -> tuple[bool, str]:
        return self.engaged, (self.reason or "kill switch engaged") if self.engaged else ""


class AnyKillSwitch:
    """Engaged when any of its switches is (e.g. the file and the Prefect Variable)."""

    def __init__(self, *switches: KillSwitch) -> None:
        self.switches = switches

    def is_engaged(self) -> tuple[bool, str]:
        reasons = [why for engaged, why in (s.is_engaged() for s in self.switches) if engaged]
        return (True, "; ".join(reasons)) if reasons else (False, "")
