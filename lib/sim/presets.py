"""Simulator presets.

* ``demo``: a handful of instruments (US ETFs, an LSE ETF, index futures),
  normal regime, co-located latency, no random rejects, no message limit --
  the embedded broker of dry runs and ``make run``.
* ``bench``: every instrument of the registry; regime, latency and the impact
  coefficient Y are parameters (Y = 0.7 default, 0.5 and 1.0 as sensitivity).

Any SimConfig field can be overridden by keyword.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.clock import Clock
from lib.instruments import InstrumentRegistry
from lib.sim.config import LatencyProfile, Regime, SimConfig

if TYPE_CHECKING:
    from lib.brokers.sim import SimBroker

__all__ = ["DEMO_SYMBOLS", "PRESETS", "bench_config", "demo_config", "make_sim_broker", "preset_config"]

DEMO_SYMBOLS: tuple[str, ...] = ("SPY", "QQQ", "TLT", "CSPX", "ES", "FESX")


def demo_config(seed: int = 0, **overrides: Any) -> SimConfig:
    """The demo market: DEMO_SYMBOLS, normal regime, colo latency."""
    base: dict[str, Any] = {
        "seed": seed,
        "symbols": DEMO_SYMBOLS,
        "regime": Regime.NORMAL,
        "latency": LatencyProfile.COLO,
        "random_reject_rate": 0.0,
        "enforce_session": False,
    }
    base.update(overrides)
    return SimConfig(**base)


def bench_config(
    seed: int = 0,
    regime: Regime | str = Regime.NORMAL,
    latency: LatencyProfile | str = LatencyProfile.COLO,
    impact_y: float = 0.7,
    **overrides: Any,
) -> SimConfig:
    """The benchmark market: all instruments unless ``symbols`` is given."""
    base: dict[str, Any] = {
        "seed": seed,
        "symbols": None,
        "regime": Regime(regime),
        "latency": LatencyProfile(latency),
        "impact_y": impact_y,
    }
    base.update(overrides)
    return SimConfig(**base)


PRESETS = {"demo": demo_config, "bench": bench_config}


def preset_config(name: str, seed: int = 0, **overrides: Any) -> SimConfig:
    """SimConfig of a named preset ('demo' or 'bench')."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown simulator preset {name!r} (known: {sorted(PRESETS)})") from None
    return factory(seed, **overrides)


def make_sim_broker(
    preset: str,
    clock: Clock,
    seed: int = 0,
    state_path: str | Path | None = None,
    instruments: InstrumentRegistry | None = None,
    book_id: str | None = None,
    **overrides: Any,
) -> SimBroker:
    """A SimBroker on a preset market (resumes from ``state_path`` if it exists)."""
    from lib.brokers.sim import SimBroker  # late import: lib.brokers.sim imports lib.sim

    cfg = preset_config(preset, seed, **overrides)
    if state_path is not None and Path(state_path).exists():
        return SimBroker(clock, None, instruments, state_path)
    return SimBroker(clock, cfg, instruments, state_path, book_id=book_id)
