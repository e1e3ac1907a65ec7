"""Liquidity estimates for sizing and slicing decisions.

Profiles come from the instrument registry (``config/instruments.yaml``,
calibrated to SIM_SPEC); a symbol outside the registry can still be sized
from a conservative per-asset-class default when its asset class is known.

Units: ``adv`` in shares/contracts per day; ``top_of_book`` in
shares/contracts; ``price`` in the quote currency; ``spread_bps`` in bps of
mid; ``daily_vol`` a fraction; ``adv_fraction`` = quantity / ADV (0.01 = 1%).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from lib.config import ExecutionConfig
from lib.errors import UnknownInstrument
from lib.instruments import InstrumentRegistry, load_instruments
from lib.slicing import pov_schedule
from lib.types import AssetClass, LiquidityProfile, SliceSchedule

__all__ = [
    "DEFAULT_LARGE_ADV_FRACTION",
    "DEFAULT_PROFILES",
    "DEFAULT_SESSION_SECONDS",
    "LINEAR_IMPACT_ADV_FRACTION",
    "LiquidityEstimator",
    "SizeClass",
    "get_liquidity_estimator",
]

# Defaults for instruments outside the registry: deliberately on the illiquid
# side of their class (small ADV, thin book, wide spread) so an unknown name is
# sliced earlier rather than later.
DEFAULT_ETF_PROFILE = LiquidityProfile(
    price=100.0, spread_bps=5.0, daily_vol=0.012, adv=1_000_000, top_of_book=500
)
DEFAULT_STK_PROFILE = LiquidityProfile(
    price=50.0, spread_bps=10.0, daily_vol=0.020, adv=500_000, top_of_book=200
)
DEFAULT_FUT_PROFILE = LiquidityProfile(
    price=1_000.0, spread_bps=2.0, daily_vol=0.012, adv=50_000, top_of_book=20
)
DEFAULT_FX_FUT_PROFILE = LiquidityProfile(
    price=1.0, spread_bps=1.0, daily_vol=0.006, adv=50_000, top_of_book=20
)

#: Per-asset-class fallbacks (read-only).
DEFAULT_PROFILES: Mapping[AssetClass, LiquidityProfile] = MappingProxyType(
    {
        AssetClass.ETF: DEFAULT_ETF_PROFILE,
        AssetClass.STK: DEFAULT_STK_PROFILE,
        AssetClass.FUT: DEFAULT_FUT_PROFILE,
        AssetClass.FX_FUT: DEFAULT_FX_FUT_PROFILE,
    }
)

#: Regular US session length, seconds; used when the registry cannot say.
DEFAULT_SESSION_SECONDS = 23_400

#: Below about 1e-3 of ADV market impact is linear in size (SIM_SPEC facts).
LINEAR_IMPACT_ADV_FRACTION = 1e-3

#: The seed's ``adv_fraction_threshold``: orders above 1% of ADV are sliced.
DEFAULT_LARGE_ADV_FRACTION = 0.01


class SizeClass(StrEnum):
    """Order size buckets (checked top to bottom, first match wins).

    - LARGE: above the ADV-fraction threshold (1% by default): sliced.
    - TINY: at most the typical top-of-book size: one marketable order at the
      touch fills it (SIM_SPEC buckets 0.2x and 1x top of book).
    - SMALL: above top of book but at most 0.1% of ADV, the linear-impact
      regime (typically the 5x top-of-book and 0.05% ADV buckets).
    - MEDIUM: between 0.1% of ADV and the threshold (0.25% and 1% ADV buckets);
      square-root impact, but still one parent order.

    With the defaults the SIM_SPEC 3%-of-ADV bucket is LARGE.
    """

    TINY = "tiny"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class LiquidityEstimator:
    """ADV and size lookups over the registry plus per-asset-class defaults."""

    def __init__(
        self,
        registry: InstrumentRegistry,
        defaults: Mapping[AssetClass, LiquidityProfile] | None = None,
    ) -> None:
        self._registry = registry
        self._defaults: Mapping[AssetClass, LiquidityProfile] = (
            DEFAULT_PROFILES if defaults is None else MappingProxyType(dict(defaults))
        )
        for ac, profile in self._defaults.items():
            if not profile.adv > 0 or not profile.top_of_book > 0:
                raise ValueError(f"default profile for {ac}: adv and top_of_book must be > 0")

    def get_profile(self, symbol: str, asset_class: AssetClass | None = None) -> LiquidityProfile:
        """The registry profile, else the asset-class default, else UnknownInstrument."""
        if symbol in self._registry:
            return self._registry[symbol].profile
        if asset_class is not None and asset_class in self._defaults:
            return self._defaults[asset_class]
        raise UnknownInstrument(symbol)

    def get_adv(self, symbol: str, asset_class: AssetClass | None = None) -> float:
        """Average daily volume, shares/contracts per day."""
        return self.get_profile(symbol, asset_class).adv

    def session_seconds(self, symbol: str) -> int:
        """Regular session length for ``symbol``, seconds (US default if unknown)."""
        if symbol in self._registry:
            return self._registry[symbol].session_seconds
        return DEFAULT_SESSION_SECONDS

    def adv_fraction(self, symbol: str, qty: float, asset_class: AssetClass | None = None) -> float:
        """``|qty| / ADV`` (0.01 = 1% of a day's volume)."""
        if not math.isfinite(qty):
            raise ValueError(f"{symbol}: quantity must be finite, got {qty!r}")
        return abs(qty) / self.get_adv(symbol, asset_class)

    def classify_order_size(
        self,
        symbol: str,
        qty: float,
        *,
        adv_fraction_threshold: float = DEFAULT_LARGE_ADV_FRACTION,
        asset_class: AssetClass | None = None,
    ) -> SizeClass:
        """Bucket an order; see :class:`SizeClass` for the rules."""
        profile = self.get_profile(symbol, asset_class)
        fraction = self.adv_fraction(symbol, qty, asset_class)
        if fraction > adv_fraction_threshold:
            return SizeClass.LARGE
        if abs(qty) <= profile.top_of_book:
            return SizeClass.TINY
        if fraction <= LINEAR_IMPACT_ADV_FRACTION:
            return SizeClass.SMALL
        return SizeClass.MEDIUM

    def slice_parameters(
        self,
        symbol: str,
        qty: int,
        config: ExecutionConfig,
        asset_class: AssetClass | None = None,
    ) -> SliceSchedule | None:
        """A POV schedule at ``config.max_participation_rate`` with children every
        ``config.slice_interval_seconds`` when the order exceeds
        ``config.adv_fraction_threshold`` of ADV, else None (send it whole)."""
        if self.adv_fraction(symbol, qty, asset_class) <= config.adv_fraction_threshold:
            return None
        return pov_schedule(
            total_qty=abs(qty),
            adv=self.get_adv(symbol, asset_class),
            session_seconds=self.session_seconds(symbol),
            participation=config.max_participation_rate,
            interval_seconds=config.slice_interval_seconds,
        )


def get_liquidity_estimator(registry: InstrumentRegistry | None = None) -> LiquidityEstimator:
    """The seed's helper: an estimator over ``registry`` (default:
    config/instruments.yaml) with the per-asset-class defaults."""
    return LiquidityEstimator(registry if registry is not None else load_instruments())
