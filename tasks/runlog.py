"""The logger a task hands to lib: Prefect's run logger inside a flow or
task run (its lines land in the run's Logs tab in the UI), the standard
``lib.story`` logger outside one (``task.fn`` in tests)."""

from __future__ import annotations

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from lib.story import StoryLog, story_logger

__all__ = ["run_log"]


def run_log() -> StoryLog:
    try:
        return get_run_logger()
    except MissingContextError:
        return story_logger()
