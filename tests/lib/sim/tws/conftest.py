"""Fixtures for the simulated IB Gateway tests.

``ib_errors`` fails a test on any ib_async log record at WARNING or above
(decoder errors, wrapper errors such as "orderStatus: No order found"),
except "Error <code>" / "Warning <code>" records of the IB codes the test
declares with ``ib_errors.allow(code, ...)``: a wrong field count is
otherwise only logged and the order silently stays PendingSubmit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lib.sim.tws_gateway import GatewayConfig, GatewayHandle, run_gateway_thread

#: A fixed virtual session (Tuesday 2026-11-24, 10:30 New York) so no test depends on the hour.
SESSION_START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
_CODE = re.compile(r"^(?:Error|Warning) (\d+), reqId")


class IbLogGuard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.allowed: set[int] = set()
        self.forgiven: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *codes: int) -> None:
        self.allowed.update(codes)

    def forgive(self, *substrings: str) -> None:
        """Accept records containing one of ``substrings`` (an expected failure's own log)."""
        self.forgiven.extend(substrings)

    def codes(self) -> list[int]:
        out = []
        for r in self.records:
            m = _CODE.match(r.getMessage())
            if m:
                out.append(int(m.group(1)))
        return out

    def unexpected(self) -> list[str]:
        bad = []
        for r in self.records:
            m = _CODE.match(r.getMessage())
            if m and int(m.group(1)) in self.allowed and r.exc_info is None:
                continue
            msg = r.getMessage()
            # ib_async logs "Canceled order: <trade>" right after the error that cancelled it
            if msg.startswith("Canceled order:") and self.allowed and r.exc_info is None:
                continue
            if any(s in msg for s in self.forgiven) and r.exc_info is None:
                continue
            bad.append(f"{r.name} {r.levelname}: {r.getMessage()}")
        return bad


@pytest.fixture
def ib_errors() -> Iterator[IbLogGuard]:
    guard = IbLogGuard()
    logger = logging.getLogger("ib_async")
    logger.addHandler(guard)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield guard
    finally:
        logger.removeHandler(guard)
        logger.setLevel(old)
    bad = guard.unexpected()
    assert not bad, "ib_async logged errors:\n" + "\n".join(bad)


def gateway_config(**kw: object) -> GatewayConfig:
    base: dict[str, object] = {"port": 0, "seed": 7, "speed": 20.0, "sim_start": SESSION_START}
    base.update(kw)
    return GatewayConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def gateway() -> Iterator[GatewayHandle]:
    with run_gateway_thread(gateway_config()) as gw:
        yield gw
