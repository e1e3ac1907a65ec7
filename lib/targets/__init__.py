"""Targets input: what each sleeve wants from one rebalance.

A targets file is YAML, or CSV for flat lists. Per sleeve it gives EITHER
explicit trades OR target positions (quantities, or weights of NAV), plus
optional pair groups (legs that must execute together). See
``config/targets.example.yaml`` and ``config/targets.example.csv``.

YAML shape::

    rebalance: {portfolio: main}          # optional
    sleeves:                              # at least one sleeve
      trend:                              # explicit trades; quantity > 0, side BUY|SELL
        trades:
          - {symbol: ES, side: BUY, quantity: 2}
      carry:                              # signed target quantities (shares/contracts)
        targets: {mode: quantity, positions: {SPY: 1200, TLT: -300}}
      risk_parity:                        # signed weights of NAV, sum of |w| <= 1
        targets: {mode: weight, weights: {SPY: 0.3, TLT: -0.2}}
    pairs:                                # optional
      - group: us_eu
        legs: [{sleeve: relval, symbol: SPY}, {sleeve: relval, symbol: CSPX}]
        hedge_symbol: ES                  # optional; hedge_ratio optional (default 1.0)

CSV shape: one kind per file, the header decides (columns in any order)::

    sleeve,symbol,side,quantity           # trades
    sleeve,symbol,target_quantity         # signed target quantities
    sleeve,symbol,target_weight           # signed weights of NAV

Pairs need YAML. Blank CSV lines are ignored but keep their row number.

Rules (any break -> ONE :class:`lib.errors.InputError` listing every problem,
one line each; nothing partial): file type .yaml/.yml/.csv only; UTF-8 text;
not empty; YAML without aliases, merge keys or control characters, nested at
most 32 deep; known keys/columns only; sleeve names and symbols are text
(quote ``yes``/``1``/``~``); symbols in the instrument registry; side BUY or
SELL; trade quantity a positive whole number in ASCII digits, target
quantities signed ones, both at most 10**9 in size (no exponents); weights finite
with ``sum(|w|) <= 1`` per sleeve (gross); each sleeve+symbol at most once
(also duplicate YAML keys); each sleeve trades or targets, not both; pairs:
unique group ids, >= 2 legs, every leg names a sleeve of the file and a symbol
that sleeve trades or targets, a leg in one pair only, hedge symbol known.

Where errors point: CSV -> ``row N`` (1-based data row; the header is row 0)
and the column; YAML -> the item path with 0-based indices and its line, e.g.
``targets.yaml: sleeves.trend.trades[2] (line 9): quantity: ...``.

Target semantics: targets are the sleeve's whole portfolio (a held symbol not
listed is closed). :func:`compute_trades` turns a file into OrderIntents; see
:mod:`lib.targets.trades` for weights, drift skipping and FX to the base currency.
"""

from lib.targets.loader import CSV_HEADERS, TARGET_SUFFIXES, load_targets
from lib.targets.models import (
    PairLegSpec,
    PairSpec,
    RebalanceMeta,
    SleeveRequest,
    SleeveTargets,
    TargetMode,
    TargetsFile,
    TradeRequest,
)
from lib.targets.trades import (
    DissolvedPair,
    SkippedTrade,
    TradeList,
    compute_trades,
    weight_to_quantity,
)

__all__ = [
    "CSV_HEADERS",
    "TARGET_SUFFIXES",
    "DissolvedPair",
    "PairLegSpec",
    "PairSpec",
    "RebalanceMeta",
    "SkippedTrade",
    "SleeveRequest",
    "SleeveTargets",
    "TargetMode",
    "TargetsFile",
    "TradeList",
    "TradeRequest",
    "compute_trades",
    "load_targets",
    "weight_to_quantity",
]
