"""Parameters of one rebalance run.

Prefect-free so the CLI, tests and the flow share it; ``extra="forbid"`` so a
misspelt parameter from the UI or a deployment is an error, not a default.

Two shapes of the same thing:

* :class:`RebalanceParams`, flat, what the library and the CLI use
  (``sim_state``, ``sim_seed``, ... beside the production fields);
* the Prefect flow's parameters (flows/rebalance.py): the production fields
  at the top level, so ``prefect deployment run ... --param rebalance_id=X``
  overrides one field and keeps the deployment's others (Prefect merges run
  parameters into a deployment's one level deep), and the simulator-only
  fields grouped in one :class:`SimOptions` object (``sim``), which the UI's
  run form shows as its own section. :meth:`RebalanceParams.from_flow` and
  :meth:`RebalanceParams.flow_parameters` convert.

Every field carries a ``description``: the UI's run form shows it under the
field (:func:`described` hands it to the flow's signature).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lib.types import PolicyMode

__all__ = [
    "DEMO_TARGETS",
    "FLOW_DEFAULTS",
    "REBALANCE_ID_PATTERN",
    "Broker",
    "RebalanceId",
    "RebalanceParams",
    "ScheduleSlug",
    "SimOptions",
    "SimSeed",
    "TargetsPath",
    "described",
]

#: Rebalance ids go into client order ids ("<id>:<intent>:s<i>:a<k>", <= 64 chars).
REBALANCE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,32}$"
#: The flow's default targets (a run with no parameters is the demo, on the simulator).
DEMO_TARGETS = "config/targets.demo.yaml"

# Constraints shared by the model and the flow's signature (the flow's
# parameter schema carries them, so the server refuses a bad value at trigger time).
TargetsPath = Annotated[str, Field(min_length=1)]
RebalanceId = Annotated[str | None, Field(pattern=REBALANCE_ID_PATTERN)]
ScheduleSlug = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,16}$")]
Broker = Literal["sim", "ibkr"]
SimSeed = Annotated[int, Field(ge=0)]

_ONLY_SIM = " Simulator only (broker sim)."


class SimOptions(BaseModel):
    """Simulator only: ignored with broker ibkr. Leave as is for a production run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: str | None = Field(
        None, description="SimBroker state file; empty: var/sim/<rebalance_id>.json, so a rerun in "
        "another process meets the same simulated broker.")
    persist: bool = Field(
        True, description="Keep the simulated broker in its state file; false: in memory only "
        "(benchmarks: the file is rewritten on every order).")
    seed: SimSeed = Field(7, description="Seed of the simulated market (same seed, same prices and fills).")
    start: datetime | None = Field(
        None, description="Virtual start time, with a time zone; empty: the next regular NYSE "
        "session at 10:30 New York.")


_SIM = SimOptions.model_fields


class RebalanceParams(BaseModel):
    """One rebalance: what to trade, where, under which idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: TargetsPath = Field(
        description="Targets file (YAML or CSV), relative to the project root: per sleeve, trades "
        "or target quantities/weights, and pair groups.")
    rebalance_id: RebalanceId = Field(
        None, description="Idempotency key (1-32 of A-Z a-z 0-9 . _ -). Empty: "
        "<portfolio>-<session date>-<schedule_slug>. A rerun with the same id reconciles with "
        "the broker and trades only the residual.")
    schedule_slug: ScheduleSlug = Field(
        "manual", description="Which schedule this run belongs to (lowercase, digits, dashes; "
        "<= 16): part of the default rebalance id.")
    broker: Broker = Field(
        "sim", description="sim: the seeded simulator on a virtual clock; ibkr: Interactive Brokers "
        "through IB Gateway/TWS (the settings' ibkr: section and EXEC_IBKR_* say where).")
    dry_run: bool = Field(
        False, description="Plan only: everything up to the order plans (artifact shows them); "
        "nothing is sent.")
    settings: str = Field("config/settings.yaml", description="Path of settings.yaml.")
    mode: PolicyMode | None = Field(
        None, description="Force one policy mode for every order (e.g. auction_close for the close "
        "rebalance); empty: the policy chooses per order.")
    sim_state: str | None = Field(None, description=str(_SIM["state"].description) + _ONLY_SIM)
    sim_persist: bool = Field(True, description=str(_SIM["persist"].description) + _ONLY_SIM)
    sim_seed: SimSeed = Field(7, description=str(_SIM["seed"].description) + _ONLY_SIM)
    sim_start: datetime | None = Field(None, description=str(_SIM["start"].description) + _ONLY_SIM)

    @property
    def sim(self) -> SimOptions:
        """The simulator-only fields, grouped as the flow takes them."""
        return SimOptions(state=self.sim_state, persist=self.sim_persist, seed=self.sim_seed,
                          start=self.sim_start)

    @classmethod
    def from_flow(
        cls,
        *,
        sim: SimOptions | dict[str, Any] | None = None,
        base: RebalanceParams | dict[str, Any] | None = None,
        **fields: Any,
    ) -> RebalanceParams:
        """From the flow's parameter shape (production fields + ``sim`` group).

        ``base``: a whole parameter set in the older one-object shape (the
        flow's hidden ``params``); then only the fields that differ from the
        flow's defaults (FLOW_DEFAULTS, a default SimOptions) override it."""
        s = sim if isinstance(sim, SimOptions) else SimOptions.model_validate(sim or {})
        flat_sim = {"sim_state": s.state, "sim_persist": s.persist, "sim_seed": s.seed,
                    "sim_start": s.start}
        if base is None:
            return cls(**fields, **flat_sim)
        merged = base.model_dump() if isinstance(base, RebalanceParams) else dict(base)
        merged.update({k: v for k, v in fields.items() if v != FLOW_DEFAULTS.get(k)})
        if s != SimOptions():
            merged.update(flat_sim)
        return cls.model_validate(merged)

    def flow_parameters(self) -> dict[str, Any]:
        """The flow's parameter shape, JSON-ready (what a deployment or API call sends)."""
        flat = self.model_dump(mode="json", exclude={"sim_state", "sim_persist", "sim_seed", "sim_start"})
        return {**flat, "sim": self.sim.model_dump(mode="json")}


#: The flow's defaults for the production fields (a run with none is the demo on the simulator).
FLOW_DEFAULTS: dict[str, Any] = {
    "targets": DEMO_TARGETS,
    **{name: f.default for name, f in RebalanceParams.model_fields.items()
       if name != "targets" and not name.startswith("sim_")},
}


def described(name: str) -> Any:
    """The flow signature's default for field ``name``: a pydantic ``Field``
    holding FLOW_DEFAULTS[name] and the description of ``RebalanceParams.<name>``
    (Prefect reads the description of a ``Field`` default into the run form,
    and drops one inside ``Annotated``)."""
    return Field(FLOW_DEFAULTS[name], description=RebalanceParams.model_fields[name].description)
