"""Seeded random streams: one independent numpy Generator per (instrument, purpose).

Every stream is ``SeedSequence(seed, spawn_key=(symbol_key, purpose))``, so the
price path of SPY does not change when another instrument is added to the run,
and the exogenous tape (price, book, flow, queue streams) is never touched by
the latency or reject draws that our own orders consume.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum
from typing import Any

import numpy as np

__all__ = ["Purpose", "make_stream", "symbol_key", "generator_state", "restore_generator"]


class Purpose(IntEnum):
    """What a stream is used for (part of its seed key; never renumber)."""

    PRICE = 0  # latent price innovations
    FLOW = 1  # exogenous market orders (arrivals, sides, sizes)
    QUEUE = 2  # cancels ahead of our resting orders
    LATENCY = 3  # message latency of our orders
    REJECTS = 4  # random rejects of our orders
    BOOK = 5  # spread and displayed sizes


def symbol_key(symbol: str) -> int:
    """A stable 32-bit key of a symbol (independent of registry order)."""
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:4], "big")


def make_stream(seed: int, symbol: str, purpose: Purpose) -> np.random.Generator:
    """The Generator for ``(seed, symbol, purpose)``; same inputs, same draws."""
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(symbol_key(symbol), int(purpose)))
    return np.random.Generator(np.random.PCG64(seq))


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """JSON-serialisable state of a Generator (PCG64 state holds Python ints)."""
    state: dict[str, Any] = dict(rng.bit_generator.state)
    return state


def restore_generator(state: dict[str, Any]) -> np.random.Generator:
    """A PCG64 Generator positioned exactly at ``state``."""
    bg = np.random.PCG64()
    bg.state = state  # type: ignore[assignment]
    return np.random.Generator(bg)
