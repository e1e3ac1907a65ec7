"""The rebalance flow's parameters as the Prefect UI and CLI see them: every
field described, none required ("Quick run" starts at once), the simulator
fields in one group, one field overridable from `prefect deployment run`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools import ValidationError, validate

from flows.rebalance import rebalance
from lib.params import FLOW_DEFAULTS, RebalanceParams, SimOptions

ROOT = Path(__file__).resolve().parents[2]
SCHEMA: dict[str, Any] = parameter_schema(rebalance).model_dump()


def _deployments() -> dict[str, dict[str, Any]]:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return {d["name"]: d["parameters"] for d in spec["deployments"]
            if d["entrypoint"].endswith(":rebalance")}


def test_every_field_has_a_description_and_none_is_required() -> None:
    props = SCHEMA["properties"]
    assert SCHEMA["required"] == []  # the UI's Quick run opens a dialog when this is not empty
    assert "params" not in props  # the legacy one-object parameter stays out of the form
    assert all(p.get("description") for p in props.values()), [n for n, p in props.items()
                                                                 if not p.get("description")]
    sim = SCHEMA["definitions"]["SimOptions"]
    assert props["sim"]["$ref"] == "#/definitions/SimOptions"
    assert all(p.get("description") for p in sim["properties"].values())
    # No docstring blob: model and flow descriptions are a sentence or two, no field listing.
    for text in [d["description"] for d in SCHEMA["definitions"].values()] + [rebalance.description]:
        assert text and len(text) < 200 and "targets:" not in text and "sim_seed" not in text, text


def test_the_form_covers_every_rebalance_parameter() -> None:
    props = set(SCHEMA["properties"])
    fields = set(RebalanceParams.model_fields)
    assert props - {"sim"} == {f for f in fields if not f.startswith("sim_")} == set(FLOW_DEFAULTS)
    assert {f"sim_{k}" for k in SCHEMA["definitions"]["SimOptions"]["properties"]} == {
        f for f in fields if f.startswith("sim_")}


def test_flow_shape_round_trips() -> None:
    p = RebalanceParams(targets="t.yaml", rebalance_id="r-1", broker="ibkr", dry_run=True,
                        sim_state="s.json", sim_persist=False, sim_seed=3,
                        sim_start=datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
    assert RebalanceParams.from_flow(**p.flow_parameters()) == p
    assert p.sim == SimOptions(state="s.json", persist=False, seed=3, start=p.sim_start)
    # The legacy one-object shape: fields at their defaults do not override it.
    assert RebalanceParams.from_flow(base=p, **FLOW_DEFAULTS) == p
    moved = RebalanceParams.from_flow(base=p, **{**FLOW_DEFAULTS, "rebalance_id": "r-2"})
    assert moved == p.model_copy(update={"rebalance_id": "r-2"})


def test_deployment_parameters_and_overrides_validate() -> None:
    deployments = _deployments()
    assert {"us-open", "us-close-auction", "eu-session", "ibkr-paper"} <= set(deployments)
    validate({}, SCHEMA, raise_on_error=True)  # a deployment with no parameters
    for params in deployments.values():
        validate(params, SCHEMA, raise_on_error=True)
        # What the server validates for `--param rebalance_id=...` (a shallow merge).
        validate({**params, "rebalance_id": "us-open-2026-12-01-b"}, SCHEMA, raise_on_error=True)
    for bad in ({"rebalance_id": "no spaces"}, {"broker": "ib"}, {"sim": {"sede": 1}},
                {"sim": {"seed": -1}}, {"mode": "fast"}, {"targets": ""}):
        with pytest.raises(ValidationError):
            validate(bad, SCHEMA, raise_on_error=True)


async def _deploy(name: str, parameters: dict[str, Any]) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        flow_id = await client.create_flow_from_name("rebalance")
        return await client.create_deployment(
            flow_id, name, parameters=parameters, parameter_openapi_schema=SCHEMA,
            enforce_parameter_schema=True, entrypoint="flows/rebalance.py:rebalance")


async def _run_of(deployment_id: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        run = await client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
        return dict(run.parameters)


async def _runs_of(deployment_id: Any) -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
        return [dict(r.parameters) for r in runs]


def test_a_deployment_run_with_no_parameters_is_accepted(prefect_harness: None) -> None:
    """What "Quick run" does: create a run with the deployment's parameters only."""
    from prefect.exceptions import PrefectHTTPStatusError

    dep = asyncio.run(_deploy("no-params", {}))
    assert asyncio.run(_run_of(dep, {})) == {}
    with pytest.raises(PrefectHTTPStatusError, match="rebalance_id"):
        asyncio.run(_run_of(dep, {"rebalance_id": "not a valid id"}))


def test_prefect_cli_overrides_only_the_rebalance_id(prefect_harness: None) -> None:
    """The README's example, through the real `prefect` CLI against the harness's API."""
    from prefect.settings import PREFECT_API_URL

    us_open = _deployments()["us-open"]
    dep = asyncio.run(_deploy("cli-override", us_open))
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    cmd = [sys.executable, "-m", "prefect", "deployment", "run", "rebalance/cli-override",
           "--param", "rebalance_id=us-open-2026-12-01-b"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [params] = asyncio.run(_runs_of(dep))
    # The server merges the run's parameters into the deployment's, one level deep.
    assert params == {**us_open, "rebalance_id": "us-open-2026-12-01-b"}
    p = RebalanceParams.from_flow(**params)
    assert (p.targets, p.schedule_slug, p.rebalance_id) == (
        us_open["targets"], "us-open", "us-open-2026-12-01-b")
    json_form = [sys.executable, "-m", "prefect", "deployment", "run", "rebalance/cli-override",
                 "--params", '{"rebalance_id": "us-open-2026-12-01-c", "dry_run": true}']
    proc = subprocess.run(json_form, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert {**us_open, "rebalance_id": "us-open-2026-12-01-c", "dry_run": True} in asyncio.run(
        _runs_of(dep))
    group = [sys.executable, "-m", "prefect", "deployment", "run", "rebalance/cli-override",
             "--param", 'sim={"seed": 11}']
    proc = subprocess.run(group, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert {**us_open, "sim": {"seed": 11}} in asyncio.run(_runs_of(dep))
    assert RebalanceParams.from_flow(**us_open, sim={"seed": 11}).sim_seed == 11
    bad = [sys.executable, "-m", "prefect", "deployment", "run", "rebalance/cli-override",
           "--param", "rebalance_id=20261201"]  # JSON: a number, refused by the schema
    proc = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and len(asyncio.run(_runs_of(dep))) == 3


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_the_flat_parameters_run_the_flow(flow_params: RebalanceParams) -> None:
    """Called the way a deployment calls it: keyword fields, the sim group as a dict."""
    fields = flow_params.flow_parameters()
    fields.update(rebalance_id="flat-dry", dry_run=True)
    out = rebalance(**fields)
    assert out["rebalance_id"] == "flat-dry" and out["dry_run"] and out["plans"] == 6
