"""The ``ibkr:`` settings section: how to reach IB Gateway / TWS and how to trade there.

No ib_async import here (settings load everywhere). Nothing secret belongs in
YAML: the account id may come from ``$EXEC_IBKR_ACCOUNT``, and host, port and
client id may be overridden from the environment (:data:`ENV_OVERRIDES`), which
:func:`with_env_overrides` applies on top of the validated file values.

Units: ``*_seconds`` in seconds (wall seconds at the gateway's pace: with
``clock: server`` a virtual gateway's session runs faster than these timeouts).
Ports by IB Gateway convention: 4002 paper, 4001 live (TWS: 7497 paper, 7496 live).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lib.errors import ConfigError

__all__ = [
    "ENV_OVERRIDES",
    "IBKRAlgoConfig",
    "IBKRConfig",
    "IBKRReconnectConfig",
    "MARKET_DATA_TYPES",
    "with_env_overrides",
]

_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)
_Secs = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]

#: IB's reqMarketDataType codes.
MARKET_DATA_TYPES: dict[str, int] = {"live": 1, "frozen": 2, "delayed": 3, "delayed_frozen": 4}

#: Environment variable -> ``ibkr`` key it overrides.
ENV_OVERRIDES: dict[str, str] = {
    "EXEC_IBKR_HOST": "host",
    "EXEC_IBKR_PORT": "port",
    "EXEC_IBKR_CLIENT_ID": "client_id",
    "EXEC_IBKR_ACCOUNT": "account",
}


class IBKRReconnectConfig(BaseModel):
    """Reconnect backoff: waits start at ``initial_seconds`` and double up to
    ``max_seconds``; after ``attempts`` failed connects the transport gives up
    (BrokerDisconnected)."""

    model_config = _STRICT

    initial_seconds: _Secs = 1.0
    max_seconds: _Secs = 30.0
    attempts: Annotated[int, Field(ge=1, le=1000)] = 10

    def budget_seconds(self, per_attempt_seconds: float) -> float:
        """Longest a connect with every retry can take: the backoff waits plus
        ``attempts`` times ``per_attempt_seconds``."""
        waits, w = 0.0, self.initial_seconds
        for _ in range(self.attempts):
            waits += w
            w = min(w * 2, self.max_seconds)
        return waits + self.attempts * per_attempt_seconds

    @model_validator(mode="after")
    def _ordered(self) -> IBKRReconnectConfig:
        if self.initial_seconds > self.max_seconds:
            raise ValueError(
                f"initial_seconds ({self.initial_seconds}) must not exceed max_seconds ({self.max_seconds})"
            )
        return self


class IBKRAlgoConfig(BaseModel):
    """IB algos. ``adaptive_priority``: send limit orders as IB's Adaptive algo
    with ``adaptivePriority`` Urgent/Normal/Patient (None: plain limit orders).
    ``twap_for_plan_mode_twap`` / ``vwap_for_plan_mode_vwap``: send each order of a
    twap/vwap plan as IB's own Twap/Vwap algo (``strategyType``, ``maxPctVol``,
    ``startTime``/``endTime``, ``allowPastEndTime``, ``noTakeLiq``) over the order's
    working window (submit time to submit time + TTL): IB slices it in time, capped
    at the plan's limit. ``vwap_max_pct_vol``: Vwap ``maxPctVol`` (fraction 0.01-0.5 as IB takes it, 0.1 = 10%)."""

    model_config = _STRICT

    adaptive_priority: Literal["Urgent", "Normal", "Patient"] | None = None
    twap_for_plan_mode_twap: bool = False
    vwap_for_plan_mode_vwap: bool = False
    twap_strategy_type: Literal["Marketable", "Matching Midpoint", "Matching Same Side", "Matching Last"] = (
        "Marketable"
    )
    vwap_max_pct_vol: Annotated[float, Field(ge=0.01, le=0.5)] = 0.1
    vwap_no_take_liq: bool = False
    allow_past_end_time: bool = True

    def algo_for(self, mode: object) -> str | None:
        """IB's algo name (``"Twap"`` / ``"Vwap"``) that works a plan of ``mode``
        (a :class:`lib.types.PolicyMode` or its value), None when not enabled."""
        value = getattr(mode, "value", mode)
        if value == "twap" and self.twap_for_plan_mode_twap:
            return "Twap"
        if value == "vwap" and self.vwap_for_plan_mode_vwap:
            return "Vwap"
        return None


class IBKRConfig(BaseModel):
    """The ``ibkr:`` section.

    host/port/client_id: where IB Gateway listens and which API client we are
    (one client id per run; the gateway refuses a second connection with it, 326).
    account: the IB account (``DU...`` paper); empty = the only managed account.
    request_timeout_seconds: per request (ib_async ``RequestTimeout``) and per
    transport call. market_data_type: live | frozen | delayed | delayed_frozen.
    read_only: connect read-only (no orders can be sent; submit raises).
    clock: ``wall`` (the machine's clock) or ``server`` (follow the gateway's time
    through reqCurrentTime; needed against a virtual-time ``afx gateway``).
    positions_break_action: what a mismatch between broker positions and the
    ledger's sleeve books does before trading: ``alert`` (warn, trade on) or
    ``block`` (refuse the run).
    max_messages_per_second: orders + cancels + modifies per second (IB allows 50).
    """

    model_config = _STRICT

    host: Annotated[str, Field(min_length=1, max_length=255)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 4002
    client_id: Annotated[int, Field(ge=0, le=2_147_483_647)] = 17
    account: Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z0-9]*$")] = ""
    request_timeout_seconds: _Secs = 10.0
    connect_timeout_seconds: _Secs = 10.0
    market_data_type: Literal["live", "frozen", "delayed", "delayed_frozen"] = "live"
    read_only: bool = False
    reconnect: IBKRReconnectConfig = Field(default_factory=IBKRReconnectConfig)
    clock: Literal["wall", "server"] = "server"
    positions_break_action: Literal["alert", "block"] = "block"
    max_messages_per_second: Annotated[float, Field(ge=1, le=50)] = 45.0
    algo: IBKRAlgoConfig = Field(default_factory=IBKRAlgoConfig)

    @property
    def market_data_type_code(self) -> int:
        return MARKET_DATA_TYPES[self.market_data_type]


def with_env_overrides(
    cfg: IBKRConfig, env: Mapping[str, str] | None = None, *, source: str = "environment"
) -> IBKRConfig:
    """``cfg`` with the EXEC_IBKR_* variables applied (empty variables ignored).
    A bad value is a ConfigError naming the variable."""
    env = os.environ if env is None else env
    raw: dict[str, object] = {}
    names: dict[str, str] = {}
    for var, key in ENV_OVERRIDES.items():
        value = env.get(var, "").strip()
        if not value:
            continue
        names[key] = var
        if key in ("port", "client_id"):
            try:
                raw[key] = int(value)
            except ValueError:
                raise ConfigError(source, var, f"must be an integer, got {value!r}") from None
        else:
            raw[key] = value
    if not raw:
        return cfg
    try:
        return IBKRConfig.model_validate({**cfg.model_dump(), **raw})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "ibkr"
        raise ConfigError(source, names.get(key, key), err["msg"]) from exc
