"""What every order command passes before it reaches the broker.

- :class:`OrderGate`: a pre-send check (the supervision's risk gate, see
  :mod:`lib.order_risk`). ``check_submit`` / ``check_modify`` return ``None``
  to let the command go, or the reason it is blocked; the OrderManager then
  sends nothing (a blocked submit is a REJECTED ticket with that reason and no
  broker call; a blocked modify leaves the order working at its old price).
  Cancels are never gated: stopping is always allowed.
- :class:`MessagePacer`: at most ``max_per_second`` orders, cancels and
  modifies in any window of one second of the injected Clock (IBKR allows 50
  messages per second); a command over the budget waits (``clock.sleep``)
  until the oldest message of the window is a second old, so a large
  rebalance never bursts past the broker's pacing.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from lib.clock import Clock
from lib.types import OrderPlan

__all__ = ["DEFAULT_MESSAGES_PER_SECOND", "MessagePacer", "OrderGate"]

#: IBKR's limit on API messages per second.
DEFAULT_MESSAGES_PER_SECOND = 50.0


class OrderGate(Protocol):
    def check_submit(self, plan: OrderPlan, client_order_id: str) -> str | None:
        """None: send it; else the reason it is blocked (nothing is sent)."""
        ...

    def check_modify(self, plan: OrderPlan, price: float, client_order_id: str) -> str | None:
        """None: send the modify to ``price``; else why not (the order keeps its price)."""
        ...


class MessagePacer:
    """A sliding one-second window of sent messages on ``clock``."""

    def __init__(self, clock: Clock, max_per_second: float = DEFAULT_MESSAGES_PER_SECOND) -> None:
        if not max_per_second > 0:
            raise ValueError(f"max_per_second must be > 0 (got {max_per_second})")
        self.clock = clock
        self.capacity = max(1, int(max_per_second))
        self.window_seconds = self.capacity / max_per_second  # 1 s for integer rates
        self._sent: deque[float] = deque()
        self.waited_seconds = 0.0  # total clock time spent waiting (for reports/tests)

    def acquire(self) -> None:
        """Wait until one more message fits in the window, then count it."""
        now = self.clock.now().timestamp()
        while self._sent and now - self._sent[0] >= self.window_seconds:
            self._sent.popleft()
        if len(self._sent) >= self.capacity:
            wait = self.window_seconds - (now - self._sent[0])
            if wait > 0:
                self.clock.sleep(wait)
                self.waited_seconds += wait
            now = self.clock.now().timestamp()
            while self._sent and now - self._sent[0] >= self.window_seconds - 1e-9:
                self._sent.popleft()
        self._sent.append(now)

    def max_in_any_window(self, stamps: list[float]) -> int:
        """Helper for checks: the most of ``stamps`` inside one window."""
        best, j = 0, 0
        ordered = sorted(stamps)
        for i, t in enumerate(ordered):
            while t - ordered[j] >= self.window_seconds:
                j += 1
            best = max(best, i - j + 1)
        return best
