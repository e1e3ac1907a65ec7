"""The policies compared by the benchmark, as data (:class:`PolicySpec`).

* P0 market order at arrival (``allow_market_orders`` switched on in a copy
  of the config);
* P1 one marketable limit at the touch, TTL 120 s, no repricing, never sliced;
* P2 this layer's policy as configured (``config/settings.yaml``), run through
  ``lib.supervisor.supervise`` with the production repricer (re-based on the
  touch) and fresh market data, exactly as ``lib.pipeline.execute`` wires it;
* P3 TWAP at 10% participation: P2's plan re-cut by ``lib.slicing.pov_schedule``
  at 10% with the configured interval (one child when the order fits);
* P4 passive first (``PolicyMode.PASSIVE_FIRST`` through ExecutionPolicy):
  every child rests at the near touch for one replace interval, then follows
  the layer's reprice ladder (see :data:`NEAR` for why this one bypasses
  ``supervise``);
* P2zl: the floor "P2 with no latency" (the simulator has no switch for queue
  ahead, so that half of the floor is not available);
* P2 sensitivity variants (``P2s:*``) with alternative defaults, for the known
  tensions: slicing threshold vs 120 s TTL, and the 3 bps futures collar.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import ExecutionConfig
from lib.types import AssetClass, PolicyMode

__all__ = [
    "FAR",
    "NEAR",
    "MAIN_POLICIES",
    "PolicySpec",
    "TTL_ABSORB_THRESHOLD",
    "policy_specs",
    "sensitivity_configs",
]

#: Children priced at release at the far touch (the SliceExecutor's own rule).
FAR = "far"
#: Children priced at the near touch at release (P4). SliceExecutor prices
#: every child at the FAR touch whenever it has a market_data callable -- it
#: ignores PASSIVE_FIRST -- so through ``supervise`` P4 would be identical to
#: P2. The benchmark runs P4 on OrderManager + SliceExecutor directly with a
#: near-touch quote adapter for child pricing (reprices still see real quotes).
NEAR = "near"

#: adv_fraction_threshold at which an unsliced order is what 120 s at 10%
#: participation absorbs on a 6.5 h session: 0.10 * 120 / 23400 = 0.051% ADV.
TTL_ABSORB_THRESHOLD = 0.0005

MAIN_POLICIES: tuple[str, ...] = ("P0", "P1", "P2", "P3", "P4")


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """How to run one policy on a forked market.

    mode: the intent's PolicyMode; config: the ExecutionConfig of its
    ExecutionPolicy and OrderManager; twap_participation: re-slice the plan
    with pov_schedule at this rate (P3); child_pricing FAR/NEAR;
    zero_latency: set the simulator's message latency to 0 after the fork;
    ladder: reprice on the touch-re-based ladder (False: static plan ladder).
    """

    name: str
    mode: PolicyMode
    config: ExecutionConfig
    twap_participation: float | None = None
    child_pricing: str = FAR
    zero_latency: bool = False
    variant_of: str | None = None  # P2 variants reuse P2's outcome when the plan is identical


def sensitivity_configs(base: ExecutionConfig, fut_collar_bps: float = 6.0) -> dict[str, ExecutionConfig]:
    """Alternative defaults for the known tensions (name -> config)."""
    caps = dict(base.max_slippage_bps_by_asset_class)
    caps[AssetClass.FUT] = fut_collar_bps
    slice_cfg = base.model_copy(update={"adv_fraction_threshold": TTL_ABSORB_THRESHOLD})
    collar_cfg = base.model_copy(update={"max_slippage_bps_by_asset_class": caps})
    both = base.model_copy(
        update={"adv_fraction_threshold": TTL_ABSORB_THRESHOLD, "max_slippage_bps_by_asset_class": caps}
    )
    return {
        "P2s:slice0.05%": slice_cfg,
        f"P2s:fut{fut_collar_bps:g}bps": collar_cfg,
        "P2s:both": both,
    }


def policy_specs(base: ExecutionConfig, *, sensitivity: bool = True) -> list[PolicySpec]:
    """P0..P4, the zero-latency floor run and (optionally) the P2 variants."""
    p0_cfg = base.model_copy(update={"allow_market_orders": True})
    # one marketable limit: no replaces, never sliced (threshold just below 1)
    p1_cfg = base.model_copy(update={"max_replace_attempts": 0, "adv_fraction_threshold": 0.999})
    specs = [
        PolicySpec("P0", PolicyMode.MARKET, p0_cfg),
        PolicySpec("P1", PolicyMode.MARKETABLE_LIMIT, p1_cfg),
        PolicySpec("P2", base.default_policy, base),
        PolicySpec("P3", PolicyMode.MARKETABLE_LIMIT, base, twap_participation=0.10),
        PolicySpec("P4", PolicyMode.PASSIVE_FIRST, base, child_pricing=NEAR),
        PolicySpec("P2zl", base.default_policy, base, zero_latency=True),
    ]
    if sensitivity:
        for name, cfg in sensitivity_configs(base).items():
            specs.append(PolicySpec(name, base.default_policy, cfg, variant_of="P2"))
    return specs
