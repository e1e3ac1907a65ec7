"""Pair execution with legging protection.

- :mod:`lib.pair.legging`   pure arithmetic: detect_legging (the seed rule),
  fill imbalance, excess/unhedged notional, hedge sizing (sign conventions there)
- :mod:`lib.pair.model`     PairMode, PairSettings, PairEvent(Kind), LegResult, PairResult
- :mod:`lib.pair.execution` PairExecution: one group's state machine (the policy)
- :mod:`lib.pair.legs`      PairLeg: one leg's plan, ticket and protection prices
- :mod:`lib.pair.hedge`     HedgeBook: the temporary hedge, resized by delta orders
- :mod:`lib.pair.executor`  PairExecutor (start/step/run/execute) and run_pairs
"""

from lib.pair.execution import PairExecution
from lib.pair.executor import PairExecutor, run_pairs
from lib.pair.hedge import HedgeBook, HedgePlanFactory
from lib.pair.legging import (
    DEFAULT_TRIGGER_FILL_PCT,
    LegFill,
    detect_legging,
    excess_notional,
    fill_imbalance,
    fill_pct,
    hedge_offset_notional,
    hedge_quantity,
    is_legged,
    round_half_up,
    target_hedge_position,
)
from lib.pair.model import LegResult, PairEvent, PairEventKind, PairMode, PairResult, PairSettings

__all__ = [
    "DEFAULT_TRIGGER_FILL_PCT",
    "HedgeBook",
    "HedgePlanFactory",
    "LegFill",
    "LegResult",
    "PairEvent",
    "PairEventKind",
    "PairExecution",
    "PairExecutor",
    "PairMode",
    "PairResult",
    "PairSettings",
    "detect_legging",
    "excess_notional",
    "fill_imbalance",
    "fill_pct",
    "hedge_offset_notional",
    "hedge_quantity",
    "is_legged",
    "round_half_up",
    "target_hedge_position",
    "run_pairs",
]
