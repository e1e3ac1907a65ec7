"""Schedules of ExecutionPolicy plans: time-sliced (TWAP/VWAP) children over
the rest of the session, and POV schedules fitted to the time left.

Units: quantities in shares/contracts, times in seconds, ADV per day.
"""

from __future__ import annotations

from lib.config import ExecutionConfig
from lib.parent_budget import fitted_participation
from lib.slicing import TWAP_STYLE, VWAP_STYLE, pov_schedule, twap_schedule, vwap_schedule
from lib.types import Instrument, PolicyMode, SliceSchedule

__all__ = ["DEFAULT_SCHEDULE_HORIZON_SECONDS", "fit_to_session", "time_schedule"]

#: TWAP/VWAP horizon when the caller does not pass the remaining session time
#: (seconds). Short on purpose: an unknown horizon must not run into the close.
DEFAULT_SCHEDULE_HORIZON_SECONDS = 1_800.0


def fit_to_session(
    cfg: ExecutionConfig,
    quantity: int,
    adv: float,
    inst: Instrument,
    slices: SliceSchedule,
    remaining: float,
    reasons: list[str],
) -> SliceSchedule:
    """A POV schedule that outlasts the session: left as is (residual
    unfilled) unless ``fit_schedule_to_session``; then the participation
    rises so the schedule ends ``avoid_last_minutes_before_close`` (or one
    interval) before the close."""
    span = slices.n_slices * slices.interval_seconds
    if not cfg.fit_schedule_to_session:
        reasons.append(
            f"POV schedule ({span:g} s) outlasts the session "
            f"({remaining:g} s left): residual is left unfilled"
        )
        return slices
    rate = fitted_participation(
        cfg.max_participation_rate, span, remaining, cfg.avoid_last_minutes_before_close * 60.0,
        cfg.slice_interval_seconds,
    )  # fmt: skip
    fitted = pov_schedule(quantity, adv, inst.session_seconds, rate, cfg.slice_interval_seconds)
    reasons.append(
        f"POV schedule ({span:g} s) outlasts the session ({remaining:g} s left): "
        f"participation raised to {rate:.0%}, {fitted.n_slices} children"
    )
    return fitted


def time_schedule(
    cfg: ExecutionConfig,
    inst: Instrument,
    quantity: int,
    mode: PolicyMode,
    remaining_session_seconds: float | None,
    reasons: list[str],
) -> SliceSchedule:
    """TWAP (or U-shaped VWAP) over what is left of the session, ending
    ``avoid_last_minutes_before_close`` early when that leaves an interval."""
    if remaining_session_seconds is None:
        remaining = DEFAULT_SCHEDULE_HORIZON_SECONDS
        reasons.append(f"remaining session unknown: {remaining:g} s horizon")
    else:
        remaining = remaining_session_seconds
    horizon = remaining - cfg.avoid_last_minutes_before_close * 60.0
    if horizon < cfg.slice_interval_seconds:
        horizon = remaining
    style = TWAP_STYLE if mode is PolicyMode.TWAP else VWAP_STYLE
    if mode is PolicyMode.VWAP and remaining_session_seconds is not None:
        schedule = vwap_schedule(
            quantity, horizon, cfg.slice_interval_seconds, session_seconds=inst.session_seconds,
            start_offset_seconds=max(0.0, inst.session_seconds - remaining), exchange=inst.exchange,
        )  # fmt: skip
    else:
        schedule = twap_schedule(quantity, horizon, cfg.slice_interval_seconds, style=style)
    reasons.append(
        f"{style} over {horizon:g} s: {schedule.n_slices} children "
        f"every {schedule.interval_seconds:g} s"
    )
    return schedule
