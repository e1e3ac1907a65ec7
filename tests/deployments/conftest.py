"""The Prefect test harness of tests/flows (one per session when run alone)."""

from tests.flows.conftest import prefect_harness

__all__ = ["prefect_harness"]
