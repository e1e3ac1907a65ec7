"""The exogenous tape and its hash (a determinism regression check).

``tape_hash`` steps fresh markets (no orders of ours) for ``n_seconds`` and
returns the sha256 over every quote (ticks and displayed sizes) and every
exogenous trade (side, size, prints) of every step, instruments in the given
order.
"""

from __future__ import annotations

import hashlib

from lib.instruments import InstrumentRegistry, load_instruments
from lib.sim.config import SimConfig
from lib.sim.market import InstrumentMarket

__all__ = ["tape_hash"]


def tape_hash(
    seed: int,
    n_seconds: int,
    symbols: tuple[str, ...] | None = None,
    instruments: InstrumentRegistry | None = None,
    config: SimConfig | None = None,
) -> str:
    """Hex sha256 of the tape of ``n_seconds`` 1-second steps."""
    reg = instruments if instruments is not None else load_instruments()
    cfg = (config or SimConfig()).model_copy(update={"seed": seed})
    syms = symbols if symbols is not None else (cfg.symbols or tuple(reg))
    outer = hashlib.sha256()
    for sym in syms:
        mkt = InstrumentMarket(reg[sym], cfg)
        mkt.start_tape()
        for k in range(1, n_seconds + 1):
            mkt.step(k)
        outer.update(sym.encode())
        outer.update(mkt.hasher.digest())
    return outer.hexdigest()
