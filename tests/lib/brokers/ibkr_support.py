"""Fixtures for the IBKR transport's socket tests: a simulated gateway on its
own thread, an IBKRTransport connected to it, and a guard that fails a test on
any ib_async log record at WARNING or above (decoder and wrapper errors: a
wrong field count is otherwise only logged and the order silently stays
PendingSubmit), except IB error-code records the test declares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count

import pytest

from lib.brokers.ibkr import IBKRTransport
from lib.brokers.ibkr_config import IBKRConfig, IBKRReconnectConfig
from lib.clock import Clock
from lib.instruments import load_instruments
from lib.sim.tws_gateway import GatewayConfig, GatewayHandle, run_gateway_thread
from tests.helpers.ib_log import SESSION_START, IbLogGuard, guarded_ib_logs

__all__ = ["IbLogGuard", "SESSION_START", "gateway", "ib_errors", "make_transport", "transport", "wait_until"]

_client_ids = count(101)


@pytest.fixture
def ib_errors() -> Iterator[IbLogGuard]:
    with guarded_ib_logs(IbLogGuard(("Canceled order:", "IBKR API validation warning"))) as guard:
        yield guard


@pytest.fixture
def gateway() -> Iterator[GatewayHandle]:
    cfg = GatewayConfig(port=0, seed=7, speed=20.0, sim_start=SESSION_START)
    with run_gateway_thread(cfg) as gw:
        yield gw


def make_transport(gw: GatewayHandle, **kw: object) -> IBKRTransport:
    base: dict[str, object] = {
        "port": gw.port, "client_id": next(_client_ids), "clock": "server", "request_timeout_seconds": 5.0,
        "connect_timeout_seconds": 5.0, "reconnect": IBKRReconnectConfig(initial_seconds=0.2, max_seconds=1.0, attempts=5),
    }  # fmt: skip
    base.update(kw)
    return IBKRTransport(IBKRConfig(**base), load_instruments())  # type: ignore[arg-type]


@pytest.fixture
def transport(gateway: GatewayHandle, ib_errors: IbLogGuard) -> Iterator[IBKRTransport]:
    t = make_transport(gateway)
    try:
        yield t
    finally:
        t.close()


def wait_until(clock: Clock, cond: Callable[[], bool], seconds: float = 120.0, step: float = 1.0) -> bool:
    """Poll ``cond`` on ``clock`` (gateway time) for at most ``seconds``."""
    waited = 0.0
    while not cond():
        if waited >= seconds:
            return False
        clock.sleep(step)
        waited += step
    return True
