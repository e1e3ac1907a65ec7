"""Shared helpers of the gateway socket tests (an ib_async client on its own loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ib_async import IB


async def connect(port: int, client_id: int, **kw: object) -> IB:
    ib = IB()
    ib.RequestTimeout = 10
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=10, raiseSyncErrors=True, **kw)  # type: ignore[arg-type]
    return ib


async def wait_until(pred: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``pred`` on the client's loop (the gateway runs at x20 virtual time)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
