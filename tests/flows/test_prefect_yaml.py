"""prefect.yaml is validated here because Prefect is not: a misspelt
``concurency_limit`` deploys happily with no limit."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect.client.schemas.schedules import CronSchedule
from pydantic import BaseModel, ConfigDict, ValidationError

from lib.instruments import load_instruments
from lib.params import RebalanceParams
from lib.targets import load_targets

ROOT = Path(__file__).resolve().parents[2]
_F = ConfigDict(extra="forbid")


class WorkPool(BaseModel):
    model_config = _F
    name: str
    work_queue_name: str | None = None
    job_variables: dict[str, Any] | None = None


class Concurrency(BaseModel):
    model_config = _F
    limit: int
    collision_strategy: Literal["ENQUEUE", "CANCEL_NEW"]


class Schedule(BaseModel):
    model_config = _F
    cron: str
    timezone: str
    active: bool = True


class Deployment(BaseModel):
    model_config = _F
    name: str
    description: str
    entrypoint: str
    work_pool: WorkPool
    concurrency_limit: Concurrency
    enforce_parameter_schema: bool
    tags: list[str]
    schedules: list[Schedule]
    parameters: dict[str, Any]


class PrefectYaml(BaseModel):
    model_config = _F
    name: str
    prefect_version: str
    definitions: dict[str, Any]
    deployments: list[Deployment]


def _load(text: str) -> PrefectYaml:
    raw = yaml.safe_load(text)
    raw["prefect_version"] = raw.pop("prefect-version")
    return PrefectYaml.model_validate(raw)


@pytest.fixture(scope="module")
def spec() -> PrefectYaml:
    return _load((ROOT / "prefect.yaml").read_text())


def test_keys_are_known_and_deployments_are_safe(spec: PrefectYaml) -> None:
    assert {d.name for d in spec.deployments} >= {"us-open", "us-close-auction", "eu-session",
                                                  "daily-summary"}
    for d in spec.deployments:
        assert d.concurrency_limit.limit == 1, d.name  # rebalances never overlap
        assert d.enforce_parameter_schema, d.name
        assert d.work_pool.name == "afx-process"


def test_schedules_are_valid_crons_in_exchange_timezones(spec: PrefectYaml) -> None:
    zones = {d.name: d.schedules[0].timezone for d in spec.deployments}
    assert zones.items() >= {"us-open": "America/New_York", "us-close-auction": "America/New_York",
                             "eu-session": "Europe/London", "daily-summary": "America/New_York"}.items()
    daily = next(d for d in spec.deployments if d.name == "daily-summary").schedules[0]
    assert (int(daily.cron.split()[1]), int(daily.cron.split()[0])) >= (16, 0)  # after the close
    for d in spec.deployments:
        for s in d.schedules:
            ZoneInfo(s.timezone)
            CronSchedule(cron=s.cron, timezone=s.timezone)
    us_open = next(d for d in spec.deployments if d.name == "us-open").schedules[0]
    minute, hour = us_open.cron.split()[:2]
    assert (int(hour), int(minute)) >= (9, 45)  # after the 15-minute avoid window


def test_entrypoint_and_parameters_resolve(spec: PrefectYaml) -> None:
    registry = load_instruments()
    for d in spec.deployments:
        module, func = d.entrypoint.split(":")
        flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), func)
        if flow.name == "daily-summary":
            from prefect.utilities.callables import parameter_schema

            assert set(d.parameters) <= set(parameter_schema(flow.fn).properties)
            continue
        assert flow.name == "rebalance"
        params = RebalanceParams.from_flow(**d.parameters)  # the flow's flat shape
        assert load_targets(ROOT / params.targets, registry).sleeves


def test_a_misspelt_key_is_caught() -> None:
    text = (ROOT / "prefect.yaml").read_text().replace("concurrency_limit:", "concurency_limit:", 1)
    with pytest.raises(ValidationError, match="concurency_limit"):
        _load(text)
