"""Child-order schedules: how a parent order is cut into children.

Two styles, both returning a :class:`lib.types.SliceSchedule` whose integer
``child_quantities`` sum *exactly* to the parent quantity and are all >= 1:

- :func:`twap_schedule` spreads the parent evenly over a duration.
- :func:`pov_schedule` caps every child at ``participation`` times the volume
  the market is expected to trade in one interval (flat intraday profile from
  ADV), so the schedule length follows from the order size.
- :func:`vwap_schedule` weights children by a U-shaped intraday volume profile
  (:func:`u_shape_weight`, amplitude per exchange in :data:`U_SHAPE_AMPLITUDE`).

Units: quantities in shares/contracts (ints); ``adv`` in shares/contracts per
day; times in seconds; ``participation`` a fraction (0.10 = 10% of volume).
Children are released at ``0, interval, 2*interval, ...`` seconds.
"""

from __future__ import annotations

import math

from lib.types import SliceSchedule

__all__ = [
    "NO_PARTICIPATION_CAP",
    "POV_STYLE",
    "TWAP_STYLE",
    "VWAP_STYLE",
    "even_split",
    "expected_volume",
    "pov_cap",
    "pov_schedule",
    "twap_schedule",
    "U_SHAPE_AMPLITUDE",
    "u_shape_weight",
    "vwap_schedule",
]

#: Intraday volume U-shape per exchange: relative volume rate at the open/close
#: is ``1 + a`` times the midday rate (``a`` below). Stylised from published
#: intraday profiles (US equities: roughly 3x midday at the open and close; the
#: close weighs more in Europe, futures have a flatter profile). Unknown: 1.0.
U_SHAPE_AMPLITUDE: dict[str, float] = {
    "NYSE": 2.0, "ARCA": 2.0, "NASDAQ": 2.0, "LSE": 1.5, "EUREX": 1.2, "CME": 1.0,
}  # fmt: skip
_DEFAULT_U_AMPLITUDE = 1.0

TWAP_STYLE = "TWAP"
VWAP_STYLE = "VWAP"
POV_STYLE = "POV"

#: ``SliceSchedule.participation`` of a time-sliced schedule: no volume cap.
NO_PARTICIPATION_CAP = 0.0


def _check_positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_quantity(total_qty: int) -> None:
    if not isinstance(total_qty, int) or isinstance(total_qty, bool) or total_qty <= 0:
        raise ValueError(f"total_qty must be a positive int, got {total_qty!r}")


def expected_volume(adv: float, session_seconds: float, seconds: float) -> float:
    """Shares/contracts the market is expected to trade in ``seconds``.

    A flat intraday profile: ``adv * seconds / session_seconds``. (The real
    profile is U-shaped; flat is conservative around midday and is what the
    simulator's exogenous flow assumes on average.)
    """
    if not math.isfinite(adv) or adv < 0:
        raise ValueError(f"adv must be finite and >= 0, got {adv!r}")
    _check_positive("session_seconds", session_seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be finite and >= 0, got {seconds!r}")
    return adv * seconds / session_seconds


def even_split(total_qty: int, n: int) -> tuple[int, ...]:
    """Split ``total_qty`` into ``n`` integer parts differing by at most one.

    The remainder goes to the earliest children (front-loaded by one share),
    so every part is ``total_qty // n`` or that plus one, and the parts sum to
    ``total_qty`` exactly. Requires ``1 <= n <= total_qty`` (no zero parts).
    """
    _check_quantity(total_qty)
    if n < 1 or n > total_qty:
        raise ValueError(f"n must be in [1, {total_qty}], got {n}")
    base, remainder = divmod(total_qty, n)
    return tuple(base + 1 if i < remainder else base for i in range(n))


def twap_schedule(
    total_qty: int,
    duration_seconds: float,
    interval_seconds: float,
    *,
    style: str = TWAP_STYLE,
) -> SliceSchedule:
    """Equal children over ``duration_seconds``.

    One child per interval (``floor(duration / interval)`` children, at least
    one), each with a full interval to work, so the last one is released one
    interval before the end. When the quantity is smaller than that count,
    there are ``total_qty`` children of one share and the spacing widens to
    ``duration / total_qty`` so the schedule still spans the duration
    (``interval_seconds`` is a minimum spacing). ``style`` labels the result
    (VWAP over a flat volume profile is the same schedule).
    """
    _check_quantity(total_qty)
    _check_positive("duration_seconds", duration_seconds)
    _check_positive("interval_seconds", interval_seconds)
    n_intervals = max(1, math.floor(duration_seconds / interval_seconds))
    n = min(total_qty, n_intervals)
    spacing = interval_seconds if n == n_intervals else duration_seconds / n
    return SliceSchedule(
        style=style,
        child_quantities=even_split(total_qty, n),
        interval_seconds=spacing,
        participation=NO_PARTICIPATION_CAP,
    )


def pov_cap(
    adv: float,
    session_seconds: float,
    participation: float,
    interval_seconds: float,
    min_child: int = 1,
) -> int:
    """Largest child allowed per interval: ``floor(participation * expected
    volume in one interval)``, but never below ``min_child`` (when the cap
    rounds below one share we still have to trade, one share at a time)."""
    if not math.isfinite(participation) or not 0 < participation <= 1:
        raise ValueError(f"participation must be in (0, 1], got {participation!r}")
    _check_positive("interval_seconds", interval_seconds)
    if min_child < 1:
        raise ValueError(f"min_child must be >= 1, got {min_child}")
    volume = expected_volume(adv, session_seconds, interval_seconds)
    # The epsilon keeps an exact product (e.g. 0.1 * 600.0 = 60.000000000000001
    # or 59.99999999) from losing a share to float noise.
    cap = math.floor(participation * volume + 1e-9)
    return max(min_child, cap)


def pov_schedule(
    total_qty: int,
    adv: float,
    session_seconds: float,
    participation: float,
    interval_seconds: float,
    min_child: int = 1,
) -> SliceSchedule:
    """Participation-capped children, one per ``interval_seconds``.

    ``n = ceil(total_qty / cap)`` children with ``cap`` from :func:`pov_cap`;
    the parent is split evenly across them (rather than ``cap, cap, ..., rest``)
    so no child exceeds the cap and the last one is not a tiny leftover. The
    schedule lasts ``n * interval_seconds``; callers compare that with the
    time left in the session.
    """
    _check_quantity(total_qty)
    cap = pov_cap(adv, session_seconds, participation, interval_seconds, min_child)
    n = math.ceil(total_qty / cap)
    return SliceSchedule(
        style=POV_STYLE,
        child_quantities=even_split(total_qty, n),
        interval_seconds=interval_seconds,
        participation=participation,
    )


def u_shape_weight(tau: float, amplitude: float) -> float:
    """Relative volume rate at session fraction ``tau`` in [0, 1]:
    ``(1 + a (2 tau - 1)^2) / (1 + a / 3)`` (mean 1 over the session)."""
    if not math.isfinite(amplitude) or amplitude < 0:
        raise ValueError(f"amplitude must be finite and >= 0, got {amplitude!r}")
    t = min(1.0, max(0.0, tau))
    return (1.0 + amplitude * (2.0 * t - 1.0) ** 2) / (1.0 + amplitude / 3.0)


def vwap_schedule(
    total_qty: int,
    duration_seconds: float,
    interval_seconds: float,
    *,
    session_seconds: float,
    start_offset_seconds: float,
    exchange: str | None = None,
) -> SliceSchedule:
    """Children over ``duration_seconds`` sized by the expected volume of their
    interval on the exchange's U-shaped profile (``start_offset_seconds`` =
    seconds since the session opened when child 0 is released). Same count and
    spacing as :func:`twap_schedule`; largest-remainder rounding, every child >= 1."""
    base = twap_schedule(total_qty, duration_seconds, interval_seconds, style=VWAP_STYLE)
    _check_positive("session_seconds", session_seconds)
    n = base.n_slices
    amp = U_SHAPE_AMPLITUDE.get(exchange or "", _DEFAULT_U_AMPLITUDE)
    step = base.interval_seconds
    weights = [u_shape_weight((start_offset_seconds + (i + 0.5) * step) / session_seconds, amp) for i in range(n)]
    spare = total_qty - n  # every child keeps one share
    raw = [spare * w / sum(weights) for w in weights]
    parts = [1 + math.floor(r) for r in raw]
    order = sorted(range(n), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True)
    for i in order[: total_qty - sum(parts)]:
        parts[i] += 1
    return SliceSchedule(
        style=VWAP_STYLE, child_quantities=tuple(parts), interval_seconds=step, participation=NO_PARTICIPATION_CAP
    )
