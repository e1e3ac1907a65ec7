"""Seeded market simulator: latent price, quotes and depth, exogenous flow,
our impact, matching with queue model, latency, faults, calibration gates.

Submodules: config, rng, market, flow, impact, matching, latency, faults,
fees, engine (MarketSimulator), tape, presets, calibration. The broker
facade is lib.brokers.sim.SimBroker.
"""

from lib.sim.config import LatencyProfile, Regime, SimConfig

__all__ = ["LatencyProfile", "Regime", "SimConfig"]
