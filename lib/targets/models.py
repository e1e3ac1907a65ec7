"""The validated shape of a targets file (pydantic v2, frozen, extra="forbid").

These models hold every rule that can be judged from one item alone: sides,
whole-number quantities, finite weights with a gross sum of at most 1, "trades
or targets" per sleeve, at least two legs per pair. Rules that need the
instrument registry or look across items (unknown symbols, duplicate rows,
pair legs that match no request) live in :mod:`lib.targets.loader`, which
knows where each item came from and can name the row.

Units: ``quantity`` / ``positions`` in shares or contracts (ints, positions
signed: negative = short); ``weights`` as fractions of NAV (0.3 = 30%, signed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from lib.types import Side

__all__ = [
    "GROSS_WEIGHT_TOLERANCE",
    "MAX_QUANTITY",
    "PairLegSpec",
    "PairSpec",
    "RebalanceMeta",
    "SleeveRequest",
    "SleeveTargets",
    "TargetMode",
    "TargetsFile",
    "TradeRequest",
    "as_int",
]

#: Slack on the ``sum |w| <= 1`` rule so that 0.1 + 0.2 + 0.7 passes.
GROSS_WEIGHT_TOLERANCE = 1e-9

_MODEL = ConfigDict(frozen=True, extra="forbid")


#: Largest |quantity| (shares/contracts) a targets file may ask for: 10**9.
#: Far above any real order (SPY has ~1e9 shares outstanding; risk limits
#: block much less), yet small enough that quantity * price * multiplier
#: stays exact in a float and every sum of quantities fits a 64-bit ledger
#: INTEGER with room to spare.
MAX_QUANTITY = 10**9

# Plain ASCII digits, optionally signed, optionally with a zero fraction
# ("2.0" from a spreadsheet). Not \d: Python's int() also reads Arabic-Indic
# and other Unicode digits, which a human reviewer would not read as a number.
_PLAIN_INT = re.compile(r"[+-]?[0-9]{1,12}(?:\.0*)?")


def as_int(value: Any) -> int:
    """A whole number from an int, an integral float (2.0) or a string of
    plain ASCII digits (``"12"``, ``"-3"``, ``"2.0"``), with
    ``|value| <= MAX_QUANTITY``.

    Rejects booleans, fractions (2.5), NaN/inf, exponents (``1e15``),
    non-ASCII digits and non-numbers with a message naming the rule broken.
    """
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number of shares/contracts, got {value!r}")
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"must be finite, got {value!r}")
        if value != math.floor(value):
            raise ValueError(
                f"fractional quantity {value!r}: quantities are whole shares/contracts"
            )
        if abs(value) > MAX_QUANTITY:
            raise ValueError(f"quantity {value!r} is above the maximum {MAX_QUANTITY:,}")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("is empty; a whole number of shares/contracts is required")
        if not _PLAIN_INT.fullmatch(text):
            if re.fullmatch(r"[+-]?[0-9]*\.[0-9]+", text):
                raise ValueError(
                    f"fractional quantity {value!r}: quantities are whole shares/contracts"
                )
            shown = value if len(value) <= 40 else value[:35] + "..."
            raise ValueError(
                f"is not a number as quantities are written (a whole number in plain "
                f"digits 0-9, no exponent, at most {MAX_QUANTITY:,}): {shown!r}"
            )
        number = int(text.split(".", 1)[0])
    else:
        raise ValueError(f"must be a whole number of shares/contracts, got {type(value).__name__}")
    if abs(number) > MAX_QUANTITY:
        raise ValueError(f"quantity {number:,} is above the maximum {MAX_QUANTITY:,}")
    return number


def _positive_int(value: Any) -> int:
    qty = as_int(value)
    if qty <= 0:
        raise ValueError(
            f"trade quantity must be a positive integer (direction goes in side), got {qty}"
        )
    return qty


# A weight as text: ASCII digits with an optional fraction and exponent.
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def _weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"weight must be a number (fraction of NAV), got {value!r}")
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value.strip()):
        shown = value if len(value) <= 40 else value[:35] + "..."
        raise ValueError(f"weight is not a plain decimal number (digits 0-9): {shown!r}")
    try:
        w = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise ValueError(f"weight is not a number: {value!r}") from None
    if not math.isfinite(w):
        raise ValueError(f"weight must be finite, got {value!r}")
    return w


def _side(value: Any) -> Any:
    # Case-insensitive: "buy" in a hand-edited CSV is unambiguous.
    if isinstance(value, str) and value.strip().upper() in ("BUY", "SELL"):
        return Side(value.strip().upper())
    if isinstance(value, Side):
        return value
    raise ValueError(f"side must be BUY or SELL, got {value!r}")


_Name = Annotated[str, Field(min_length=1, max_length=64)]
_Symbol = Annotated[str, Field(min_length=1, max_length=24)]
PositiveQuantity = Annotated[int, BeforeValidator(_positive_int)]
SignedQuantity = Annotated[int, BeforeValidator(as_int)]
Weight = Annotated[float, BeforeValidator(_weight)]


class TargetMode(StrEnum):
    QUANTITY = "quantity"
    WEIGHT = "weight"


class TradeRequest(BaseModel):
    """One explicit trade: ``quantity`` (> 0) shares/contracts on ``side``."""

    model_config = _MODEL
    symbol: _Symbol
    side: Annotated[Side, BeforeValidator(_side)]
    quantity: PositiveQuantity

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity


class SleeveTargets(BaseModel):
    """A sleeve's complete target portfolio.

    mode ``quantity``: ``positions`` maps symbol -> signed target quantity.
    mode ``weight``: ``weights`` maps symbol -> signed fraction of NAV, with
    ``sum(|w|) <= 1`` (gross, so a 60/40 long/short book is at the limit).
    A symbol held in the sleeve's book but absent here is targeted to 0.
    """

    model_config = _MODEL
    mode: TargetMode
    positions: dict[_Symbol, SignedQuantity] | None = None
    weights: dict[_Symbol, Weight] | None = None

    @field_validator("weights")
    @classmethod
    def _gross_at_most_one(cls, weights: dict[str, float] | None) -> dict[str, float] | None:
        if weights is None:
            return None
        gross = 0.0
        for symbol, w in weights.items():
            gross += abs(w)
            if gross > 1.0 + GROSS_WEIGHT_TOLERANCE:
                total = sum(abs(v) for v in weights.values())
                raise ValueError(
                    f"sum of |weights| must be <= 1 (gross, fraction of NAV); got {total:.6g}, "
                    f"limit passed at {symbol}"
                )
        return weights

    @model_validator(mode="after")
    def _mode_matches(self) -> SleeveTargets:
        if self.mode is TargetMode.QUANTITY and (
            self.positions is None or self.weights is not None
        ):
            raise ValueError("mode 'quantity' needs 'positions' (and no 'weights')")
        if self.mode is TargetMode.WEIGHT and (self.weights is None or self.positions is not None):
            raise ValueError("mode 'weight' needs 'weights' (and no 'positions')")
        return self

    def symbols(self) -> tuple[str, ...]:
        """The listed symbols in file order."""
        return tuple(self.positions or self.weights or {})


class SleeveRequest(BaseModel):
    """What one sleeve asks for: explicit ``trades`` OR ``targets``, never both."""

    model_config = _MODEL
    trades: Annotated[tuple[TradeRequest, ...], Field(min_length=1)] | None = None
    targets: SleeveTargets | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SleeveRequest:
        if (self.trades is None) == (self.targets is None):
            raise ValueError("give exactly one of 'trades' or 'targets'")
        return self

    def symbols(self) -> tuple[str, ...]:
        if self.trades is not None:
            return tuple(t.symbol for t in self.trades)
        assert self.targets is not None  # guaranteed by _exactly_one
        return self.targets.symbols()


class PairLegSpec(BaseModel):
    """One leg of a pair: the (sleeve, symbol) request it refers to."""

    model_config = _MODEL
    sleeve: _Name
    symbol: _Symbol


class PairSpec(BaseModel):
    """Legs that must execute together. ``hedge_symbol`` is the instrument used
    for a temporary hedge while legging (None: reprice only); ``hedge_ratio``
    is hedge units per unit of lagging-leg notional."""

    model_config = _MODEL
    group: _Name
    legs: Annotated[tuple[PairLegSpec, ...], Field(min_length=2)]
    hedge_symbol: _Symbol | None = None
    hedge_ratio: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0


class RebalanceMeta(BaseModel):
    """Optional header of a targets file."""

    model_config = _MODEL
    portfolio: _Name | None = None


class TargetsFile(BaseModel):
    """A whole validated targets file. ``source`` is the path it was read from
    (used in every later error message)."""

    model_config = _MODEL
    source: str = "<memory>"
    rebalance: RebalanceMeta = Field(default_factory=RebalanceMeta)
    sleeves: Annotated[dict[_Name, SleeveRequest], Field(min_length=1)]
    pairs: tuple[PairSpec, ...] = ()

    def iter_requests(self) -> Iterator[tuple[str, SleeveRequest]]:
        """Sleeves in file order."""
        return iter(self.sleeves.items())

    def pair_of(self, sleeve: str, symbol: str) -> str | None:
        """The pair group id a (sleeve, symbol) leg belongs to, if any."""
        for pair in self.pairs:
            if any(leg.sleeve == sleeve and leg.symbol == symbol for leg in pair.legs):
                return pair.group
        return None
