"""Fixtures for the simulated IB Gateway tests.

``ib_errors`` fails a test on any ib_async log record at WARNING or above
(decoder errors, wrapper errors such as "orderStatus: No order found"),
except "Error <code>" / "Warning <code>" records of the IB codes the test
declares with ``ib_errors.allow(code, ...)``: a wrong field count is
otherwise only logged and the order silently stays PendingSubmit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from lib.sim.tws_gateway import GatewayConfig, GatewayHandle, run_gateway_thread
from tests.helpers.ib_log import SESSION_START, IbLogGuard, guarded_ib_logs


@pytest.fixture
def ib_errors() -> Iterator[IbLogGuard]:
    with guarded_ib_logs(IbLogGuard(), level=logging.INFO) as guard:
        yield guard


def gateway_config(**kw: object) -> GatewayConfig:
    base: dict[str, object] = {"port": 0, "seed": 7, "speed": 20.0, "sim_start": SESSION_START}
    base.update(kw)
    return GatewayConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def gateway() -> Iterator[GatewayHandle]:
    with run_gateway_thread(gateway_config()) as gw:
        yield gw
