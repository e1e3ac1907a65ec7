"""Parameters of the market simulator and the simulated broker (one frozen model).

Units: ``*_s`` in seconds, rates ``*_per_s`` per second, ``*_bps`` in basis
points, fractions as fractions (0.05 = 5%), sizes in shares/contracts, cash in
the base currency.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LATENCY_MEDIANS_S", "LatencyProfile", "Regime", "SimConfig"]


class Regime(StrEnum):
    """Market regime. STRESSED doubles vol and spread and halves depth."""

    NORMAL = "normal"
    STRESSED = "stressed"


class LatencyProfile(StrEnum):
    """One-way order latency profile (lognormal around the median)."""

    ZERO = "zero"
    COLO = "colo"
    RETAIL = "retail"


#: Median one-way latency per profile, seconds.
LATENCY_MEDIANS_S: dict[LatencyProfile, float] = {
    LatencyProfile.ZERO: 0.0,
    LatencyProfile.COLO: 0.050,
    LatencyProfile.RETAIL: 0.150,
}

_Pos = Annotated[float, Field(gt=0)]
_Frac = Annotated[float, Field(ge=0, le=1)]


class SimConfig(BaseModel):
    """Everything that shapes one simulated market + broker run.

    ``symbols`` None means every instrument of the registry. The tape of an
    instrument depends only on ``seed``, its symbol and the market fields
    (regime, vol/flow/book shape), never on the other instruments or on our
    orders except through the explicit impact term.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    symbols: tuple[str, ...] | None = None
    regime: Regime = Regime.NORMAL

    # latent price
    student_nu: Annotated[float, Field(gt=2)] = 4.0
    intraday_u_shape: bool = False
    u_shape_amplitude: Annotated[float, Field(ge=0)] = 1.5  # vol^2 at open/close = 1+a times midday

    # book
    book_levels: Annotated[int, Field(ge=1, le=20)] = 5
    level_size_growth: Annotated[float, Field(ge=0)] = 0.25  # level k size = tob*(1+g*k)
    book_size_log_sd: Annotated[float, Field(ge=0)] = 0.5
    depth_refill_half_life_s: _Pos = 10.0

    # exogenous flow
    flow_mean_size_frac_tob: _Pos = 0.2  # mean trade size / top-of-book size
    flow_tail_alpha: Annotated[float, Field(gt=1)] = 1.5
    flow_size_cap_mult: Annotated[float, Field(gt=1)] = 1000.0  # cap = mult * x_min
    flow_sign_kappa: Annotated[float, Field(ge=0)] = 2.0  # P(buy) = Phi(kappa * signal)
    # the flow of second k is informed about the price innovations of the next
    # flow_lead_s seconds (signal = their normalised sum); 0 = contemporaneous
    flow_lead_s: Annotated[int, Field(ge=0, le=60)] = 5
    queue_cancel_rate_per_s: _Frac = 0.02  # mean share of queue ahead cancelled per second

    # our impact
    impact_y: _Pos = 0.7
    impact_permanent_frac: _Frac = 2.0 / 3.0
    impact_decay_tau_s: _Pos = 300.0  # e-folding of the transient part (~95% gone in 15 min)
    impact_idle_s: Annotated[float, Field(ge=0)] = 60.0  # transient decays once we stop trading
    impact_linear_below_adv: _Pos = 1e-3

    # latency and message handling
    latency: LatencyProfile = LatencyProfile.COLO
    latency_median_s: Annotated[float, Field(ge=0)] | None = None  # overrides the profile
    latency_log_sd: Annotated[float, Field(ge=0)] = 0.5

    # session (seconds into the regular session at the simulator epoch)
    session_offset_s: Annotated[float, Field(ge=0)] = 3600.0
    enforce_session: bool = False

    # rejects
    max_price_deviation: _Pos = 0.05  # limit further than this from mid (fraction) -> reject
    max_messages_per_s: Annotated[int, Field(gt=0)] | None = None
    random_reject_rate: _Frac = 0.0

    # account
    start_cash: float = 10_000_000.0
    base_currency: str = "USD"
    fx_to_base: dict[str, float] = Field(default_factory=lambda: {"USD": 1.0, "EUR": 1.08})

    @property
    def latency_median(self) -> float:
        """Median one-way latency in seconds."""
        if self.latency_median_s is not None:
            return self.latency_median_s
        return LATENCY_MEDIANS_S[self.latency]

    @property
    def stress(self) -> bool:
        return self.regime is Regime.STRESSED
