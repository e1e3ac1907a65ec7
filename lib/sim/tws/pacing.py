"""The gateway's only use of real time, in one place.

A TWS client lives in wall time (its timeouts, ib_async's throttling), so the
gateway must move its VirtualClock as wall time passes: in virtual mode at
``speed`` virtual seconds per wall second, in wall mode 1:1. The pace comes
from the running asyncio loop's monotonic clock (``loop.time()``), read only
here; everything else in the gateway takes the VirtualClock (the session
start comes from an injected wall Clock, lib.clock.SystemClock by default).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from lib.clock import VirtualClock

log = logging.getLogger("lib.sim.tws")

__all__ = ["Pacer"]


class Pacer:
    """Advances ``clock`` with the loop's clock and calls ``on_step`` after each advance."""

    def __init__(self, clock: VirtualClock, speed: float, step_s: float = 0.02) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0 virtual seconds per wall second")
        self.clock = clock
        self.speed = speed
        self.step_s = step_s  # wall seconds between advances

    async def run(self, on_step: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        t0, v0 = loop.time(), self.clock.now()
        while True:
            await asyncio.sleep(self.step_s)
            try:
                self.clock.advance_to(v0 + timedelta(seconds=(loop.time() - t0) * self.speed))
                on_step()
            except Exception:  # time must keep moving: log the bug, step on
                log.exception("gateway step failed")
