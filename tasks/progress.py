"""A Prefect progress artifact for the supervision loop, updated sparingly
(each update is an API call): on every 5% step and at completion."""

from __future__ import annotations

import re
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext, TaskRunContext

__all__ = ["ProgressArtifact", "artifact_key"]

_STEP_PCT = 5.0


def artifact_key(kind: str, rebalance_id: str) -> str:
    """Prefect artifact keys allow only lowercase letters, digits and dashes."""
    return f"{kind}-" + re.sub(r"[^a-z0-9-]", "-", rebalance_id.lower())


class ProgressArtifact:
    def __init__(self, key: str, description: str = "Orders completed") -> None:
        self._key = key
        self._description = description
        self._id: UUID | None = None
        self._last = -_STEP_PCT
        # Outside a flow/task run (task.fn in tests) there is no API to write to.
        self.enabled = bool(FlowRunContext.get() or TaskRunContext.get())

    def update(self, done: int, total: int) -> None:
        pct = 100.0 if total == 0 else 100.0 * done / total
        if not self.enabled:
            return
        if pct < 100.0 and pct - self._last < _STEP_PCT:
            return
        desc = f"{self._description}: {done}/{total}"
        if self._id is None:
            self._id = create_progress_artifact(pct, key=self._key, description=desc)
        else:
            update_progress_artifact(self._id, pct, description=desc)
        self._last = pct
