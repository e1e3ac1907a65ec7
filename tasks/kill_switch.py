"""The kill switch as a Prefect Variable: ``prefect variable set afx-kill-switch
"reason"`` (or ``true``) blocks all submission from the next task that checks
it; ``prefect variable unset afx-kill-switch`` releases it. The file switch of
settings.yaml (risk.kill_switch_file) works alongside, without Prefect."""

from __future__ import annotations

from prefect.context import FlowRunContext, TaskRunContext
from prefect.variables import Variable

__all__ = ["KILL_SWITCH_VARIABLE", "VariableKillSwitch"]

KILL_SWITCH_VARIABLE = "afx-kill-switch"


class VariableKillSwitch:
    """Engaged while the Variable holds a truthy value (its text is the reason)."""

    def __init__(self, name: str = KILL_SWITCH_VARIABLE) -> None:
        self.name = name

    def is_engaged(self) -> tuple[bool, str]:
        if not (FlowRunContext.get() or TaskRunContext.get()):
            return False, ""  # task.fn in tests: no API to ask
        value = Variable.get(self.name, default=None)
        if value in (None, False, "", "false", "0", "off"):
            return False, ""
        reason = value if isinstance(value, str) and value.lower() != "true" else "engaged"
        return True, f"Prefect Variable {self.name}: {reason}"
