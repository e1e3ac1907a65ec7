"""Message latency, the message-rate limiter and random rejects of our orders.

Latency is lognormal: ``median * exp(log_sd * N(0, 1))`` seconds, one draw per
message from the symbol's LATENCY stream (50 ms 'colo', 150 ms 'retail').
These streams are separate from the market streams, so how many messages a
policy sends never changes the market tape.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from lib.sim.rng import Purpose, generator_state, make_stream, restore_generator

__all__ = ["LatencyModel", "RateLimiter", "RejectModel"]


class LatencyModel:
    """Lognormal one-way latency per message (seconds)."""

    def __init__(self, seed: int, symbols: tuple[str, ...], median_s: float, log_sd: float) -> None:
        self.median_s = median_s
        self.log_sd = log_sd
        self._rngs: dict[str, np.random.Generator] = {s: make_stream(seed, s, Purpose.LATENCY) for s in symbols}

    def draw(self, symbol: str) -> float:
        z = float(self._rngs[symbol].standard_normal())
        if self.median_s <= 0:
            return 0.0
        return self.median_s * math.exp(self.log_sd * z)

    def to_state(self) -> dict[str, Any]:
        return {s: generator_state(r) for s, r in self._rngs.items()}

    def load_state(self, state: dict[str, Any]) -> None:
        self._rngs = {s: restore_generator(v) for s, v in state.items()}


class RejectModel:
    """Random rejects: each new order is refused with probability ``rate``."""

    def __init__(self, seed: int, symbols: tuple[str, ...]) -> None:
        self._rngs: dict[str, np.random.Generator] = {s: make_stream(seed, s, Purpose.REJECTS) for s in symbols}

    def hit(self, symbol: str, rate: float) -> bool:
        u = float(self._rngs[symbol].random())
        return u < rate

    def to_state(self) -> dict[str, Any]:
        return {s: generator_state(r) for s, r in self._rngs.items()}

    def load_state(self, state: dict[str, Any]) -> None:
        self._rngs = {s: restore_generator(v) for s, v in state.items()}


class RateLimiter:
    """At most ``max_per_s`` messages in any 1-second window of sim time
    (None = unlimited). IB's default is 50 messages per second."""

    def __init__(self, max_per_s: int | None) -> None:
        self.max_per_s = max_per_s
        self._times: deque[float] = deque()

    def allow(self, t_s: float) -> bool:
        """Record a message at ``t_s`` if the window has room; False if not."""
        if self.max_per_s is None:
            return True
        while self._times and self._times[0] <= t_s - 1.0:
            self._times.popleft()
        if len(self._times) >= self.max_per_s:
            return False
        self._times.append(t_s)
        return True

    def to_state(self) -> list[float]:
        return list(self._times)

    def load_state(self, state: list[float]) -> None:
        self._times = deque(float(t) for t in state)
