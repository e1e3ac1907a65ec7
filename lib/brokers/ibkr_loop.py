"""The one event loop thread a transport runs ib_async on (no ib_async import here).

Sync callers hand coroutines over with :meth:`LoopThread.run`
(``asyncio.run_coroutine_threadsafe``) and wait at most ``timeout`` seconds;
a call from the loop's own thread is refused (it would deadlock).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from lib.errors import BrokerTimeout

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """A daemon thread running one asyncio event loop until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop; BrokerTimeout (and the coroutine cancelled) after ``timeout`` s."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a transport method was called from its own event loop")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except FutureTimeout:
            fut.cancel()
            raise BrokerTimeout(f"IB did not answer within {timeout:.1f} s") from None

    def stop(self, join_seconds: float = 5.0) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(join_seconds)
