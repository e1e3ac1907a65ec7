"""Fixtures for the IBKR transport's socket tests: a simulated gateway on its
own thread, an IBKRTransport connected to it, and a guard that fails a test on
any ib_async log record at WARNING or above (decoder and wrapper errors: a
wrong field count is otherwise only logged and the order silently stays
PendingSubmit), except IB error-code records the test declares."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import count

import pytest

from lib.brokers.ibkr import IBKRTransport
from lib.brokers.ibkr_config import IBKRConfig, IBKRReconnectConfig
from lib.clock import Clock
from lib.instruments import load_instruments
from lib.sim.tws_gateway import GatewayConfig, GatewayHandle, run_gateway_thread

__all__ = ["IbLogGuard", "SESSION_START", "gateway", "ib_errors", "make_transport", "transport", "wait_until"]

#: A fixed virtual session (Tuesday 2026-11-24, 10:30 New York): no test depends on the hour.
SESSION_START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
_CODE = re.compile(r"^(?:Error|Warning) (\d+), reqId")
_client_ids = count(101)


class IbLogGuard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.allowed: set[int] = set()
        self.forgiven: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *codes: int) -> None:
        """IB error codes this test expects (their 'Error N, reqId' records pass)."""
        self.allowed.update(codes)

    def forgive(self, *substrings: str) -> None:
        self.forgiven.extend(substrings)

    def unexpected(self) -> list[str]:
        bad = []
        for r in self.records:
            msg = r.getMessage()
            m = _CODE.match(msg)
            if r.exc_info is None and (
                (m and int(m.group(1)) in self.allowed)
                or (self.allowed and msg.startswith(("Canceled order:", "IBKR API validation warning")))
                or any(s in msg for s in self.forgiven)
            ):
                continue
            bad.append(f"{r.name} {r.levelname}: {msg}")
        return bad


@pytest.fixture
def ib_errors() -> Iterator[IbLogGuard]:
    guard = IbLogGuard()
    logger = logging.getLogger("ib_async")
    logger.addHandler(guard)
    try:
        yield guard
    finally:
        logger.removeHandler(guard)
    bad = guard.unexpected()
    assert not bad, "ib_async logged errors:\n" + "\n".join(bad)


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
