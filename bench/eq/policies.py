"""The policies compared by the benchmark, as data (:class:`PolicySpec`).

Layer runs (through ``lib.supervisor.supervise`` with the production repricer
and fresh market data, exactly as ``lib.pipeline.execute`` wires them):

* P1 one marketable limit at the touch, TTL 120 s, no repricing, never sliced;
  at its TTL the runner completes the rest with a market order (limit then
  market at TTL);
* P2 this layer's policy as configured (``config/settings.yaml``);
* P2 sensitivity variants ``P2s:seed``, ``P2s:fixed``, ``P2s:k3`` (see sensitivity_configs).

Independent peers (``bench/eq/peers.py``, straight on the simulated broker):
P0 market order, TWAP, POV10, POV25, AC (Almgren-Chriss), PF (passive
first). P1 and the peers form the "best peer" set a user could pick instead
of P2 (:data:`PEER_NAMES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.eq.peers import PEERS, PeerSpec
from lib.config import ExecutionConfig
from lib.types import AssetClass, PolicyMode

__all__ = [
    "DEFAULT_VARIANTS",
    "MAIN_POLICIES",
    "PEER_NAMES",
    "PolicySpec",
    "policy_specs",
    "sensitivity_configs",
]

PEER_NAMES: tuple[str, ...] = ("P0", "P1", "TWAP", "POV10", "POV25", "AC", "PF")
MAIN_POLICIES: tuple[str, ...] = ("P2", *PEER_NAMES)


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """How to run one policy on a forked market.

    mode/config: the intent's PolicyMode and the ExecutionConfig of its
    ExecutionPolicy (layer runs); peer: an independent peer (then mode/config
    are unused); ttl_stop: stop the layer run at the plan's TTL (P1).
    """

    name: str
    mode: PolicyMode
    config: ExecutionConfig
    peer: PeerSpec | None = None
    ttl_stop: bool = False
    variant_of: str | None = None  # P2 variants reuse P2's outcome when the plan is identical


def sensitivity_configs(base: ExecutionConfig) -> dict[str, ExecutionConfig]:
    """Alternative defaults (name -> config), each paired against P2.

    ``P2s:seed``: the seed's defaults before issue 10 (collar fixed at the cap,
    FUT collar 3 bps, POV schedules not fitted to the session, no top-of-book
    slicing). ``P2s:fixed``: the configuration with the parent risk budget off
    and the FUT collar at the seed's 3 bps (the defaults shipped before the risk
    band followed the budget). ``P2s:k3``: the budget at k = 3."""
    seed_caps = dict(base.max_slippage_bps_by_asset_class)
    seed_caps[AssetClass.FUT] = 3.0
    seed = base.model_copy(
        update={"collar_budget_k": 0.0, "fit_schedule_to_session": False, "max_slippage_bps_by_asset_class": seed_caps,
                "slice_above_book_multiple": 0.0}
    )  # fmt: skip
    fixed = base.model_copy(update={"collar_budget_k": 0.0, "max_slippage_bps_by_asset_class": seed_caps})
    k3 = base.model_copy(update={"collar_budget_k": 3.0})
    return {"P2s:seed": seed, "P2s:fixed": fixed, "P2s:k3": k3}


#: the variants the benchmark runs (first seed of each cell; the others on request: run time)
DEFAULT_VARIANTS: tuple[str, ...] = ("P2s:fixed",)


def policy_specs(
    base: ExecutionConfig, *, sensitivity: bool = True, variants: tuple[str, ...] = DEFAULT_VARIANTS
) -> list[PolicySpec]:
    """P2, P1, the independent peers and (optionally) the P2 variants."""
    # one marketable limit: no replaces, never sliced (threshold just below 1)
    p1_cfg = base.model_copy(update={"max_replace_attempts": 0, "adv_fraction_threshold": 0.999})
    specs = [
        PolicySpec("P2", base.default_policy, base),
        PolicySpec("P1", PolicyMode.MARKETABLE_LIMIT, p1_cfg, ttl_stop=True),
    ]
    specs += [PolicySpec(p.name, PolicyMode.MARKET, base, peer=p) for p in PEERS]
    if sensitivity:
        for name, cfg in sensitivity_configs(base).items():
            if name not in variants:
                continue
            specs.append(PolicySpec(name, base.default_policy, cfg, variant_of="P2"))
    return specs
