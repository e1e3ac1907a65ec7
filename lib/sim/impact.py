"""Our own price impact: the square-root law with a permanent and a transient part.

Total impact of a signed cumulative quantity ``q`` (shares/contracts) is

    F(q) = sign(q) * Y * sigma_daily * price * g(|q| / ADV),
    g(x) = sqrt(x) for x >= x0, x / sqrt(x0) below (linear, continuous at x0 = 1e-3)

in price units (Toth et al. 2011; Almgren et al. 2005). Each fill ``dq`` adds
``dF = F(q + dq) - F(q)``: a fraction (2/3) goes to a permanent shift that never
decays, the rest to a transient shift. While we keep trading (a fill within
``idle_s``) the transient part and the running quantity ``q`` hold, so the
peak impact of a metaorder of size Q is exactly F(Q); once we stop, both decay
exponentially with ``tau_s`` (300 s: ~95% relaxed after 15 minutes), so the
impact relaxes to about 2/3 of its peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["ImpactModel", "sqrt_law"]


def sqrt_law(q: float, adv: float, y: float, sigma_price: float, x0: float) -> float:
    """F(q) in price units; sigma_price = daily vol in price units (sigma_daily * price)."""
    if q == 0 or adv <= 0:
        return 0.0
    x = abs(q) / adv
    g = math.sqrt(x) if x >= x0 else x / math.sqrt(x0)
    return math.copysign(y * sigma_price * g, q)


@dataclass(slots=True)
class ImpactModel:
    """Per-instrument impact state. All prices in price units, time in sim seconds."""

    y: float
    sigma_price: float
    adv: float
    permanent_frac: float = 2.0 / 3.0
    tau_s: float = 300.0
    idle_s: float = 60.0
    linear_below: float = 1e-3
    q: float = 0.0  # running signed quantity of the current metaorder
    permanent: float = 0.0
    transient: float = 0.0
    last_fill_s: float = -math.inf

    @property
    def value(self) -> float:
        """Current price shift caused by our fills."""
        return self.permanent + self.transient

    def on_fill(self, signed_qty: float, t_s: float) -> None:
        """Account for one fill (positive = we bought) at sim time ``t_s``."""
        f0 = sqrt_law(self.q, self.adv, self.y, self.sigma_price, self.linear_below)
        self.q += signed_qty
        f1 = sqrt_law(self.q, self.adv, self.y, self.sigma_price, self.linear_below)
        d = f1 - f0
        self.permanent += self.permanent_frac * d
        self.transient += (1.0 - self.permanent_frac) * d
        self.last_fill_s = t_s

    def step(self, t_s: float, dt_s: float = 1.0) -> None:
        """Relax over ``dt_s`` ending at ``t_s`` once we have been idle long enough."""
        if t_s - self.last_fill_s < self.idle_s:
            return
        k = math.exp(-dt_s / self.tau_s)
        self.transient *= k
        self.q *= k
        if abs(self.transient) < 1e-12:
            self.transient = 0.0

    def to_state(self) -> dict[str, Any]:
        last = self.last_fill_s if math.isfinite(self.last_fill_s) else None
        return {"q": self.q, "permanent": self.permanent, "transient": self.transient, "last_fill_s": last}

    def load_state(self, state: dict[str, Any]) -> None:
        self.q = float(state["q"])
        self.permanent = float(state["permanent"])
        self.transient = float(state["transient"])
        last = state["last_fill_s"]
        self.last_fill_s = -math.inf if last is None else float(last)
