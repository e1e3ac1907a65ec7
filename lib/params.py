"""Parameters of one rebalance run (the Prefect flow's parameter model).

Prefect-free so the CLI, tests and the flow share it; ``extra="forbid"`` so a
misspelt parameter from the UI or a deployment is an error, not a default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from lib.types import PolicyMode

__all__ = ["REBALANCE_ID_PATTERN", "RebalanceParams"]

#: Rebalance ids go into client order ids ("<id>:<intent>:s<i>:a<k>", <= 64 chars).
REBALANCE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,32}$"


class RebalanceParams(BaseModel):
    """One rebalance.

    targets: path of the targets file (YAML or CSV).
    rebalance_id: idempotency key; default ``<portfolio>-<session date>-<schedule_slug>``.
      A rerun with the same id reconciles with the broker and trades only the residual.
    broker: ``sim`` (seeded simulator, virtual clock) or ``ibkr`` (IB Gateway, wall clock).
    dry_run: everything up to the plans; nothing is sent.
    settings: path of settings.yaml.
    mode: force a policy mode for every order (e.g. ``auction_close`` for the close deployment).
    sim_state: SimBroker state file (default ``var/sim/<rebalance_id>.json``), so a rerun
      in another process meets the same simulated broker. sim_persist false keeps the
      simulated broker in memory only (benchmarks: the state file is rewritten on every order).
    sim_seed: simulator seed. sim_start: virtual start time (tz-aware); default the next
      regular NYSE session at 10:30 New York.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: Annotated[str, Field(min_length=1)]
    rebalance_id: Annotated[str | None, Field(pattern=REBALANCE_ID_PATTERN)] = None
    schedule_slug: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,16}$")] = "manual"
    broker: Literal["sim", "ibkr"] = "sim"
    dry_run: bool = False
    settings: str = "config/settings.yaml"
    mode: PolicyMode | None = None
    sim_state: str | None = None
    sim_persist: bool = True
    sim_seed: Annotated[int, Field(ge=0)] = 7
    sim_start: datetime | None = None
