"""Shared fixtures. Telemetry off for every test (Prefect reads these at import)."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from datetime import UTC, datetime  # noqa: E402

import pytest  # noqa: E402

from lib.clock import VirtualClock  # noqa: E402
from lib.config import ExecutionConfig, load_settings  # noqa: E402
from lib.instruments import InstrumentRegistry, load_instruments  # noqa: E402


@pytest.fixture(scope="session")
def instruments() -> InstrumentRegistry:
    return load_instruments()


@pytest.fixture
def exec_config() -> ExecutionConfig:
    return load_settings().execution


@pytest.fixture
def clock() -> VirtualClock:
    """Virtual time starting mid-morning New York on a regular session day."""
    return VirtualClock(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
