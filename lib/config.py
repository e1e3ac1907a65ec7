"""Typed configuration: ``config/settings.yaml`` as frozen pydantic models.

Every model is ``frozen=True, extra="forbid"``: a misspelt key, a wrong type
or an out-of-range value raises :class:`lib.errors.ConfigError` naming the
file, the dotted key path and the rule; nothing runs on a bad config.

Units: ``*_seconds`` in seconds, ``*_minutes_*`` in minutes, ``*_bps`` in basis
points, ``*_pct`` / ``*_rate`` / ``*_fraction*`` as fractions (0.02 = 2%),
``*_usd`` in US dollars.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from lib.errors import ConfigError
from lib.types import AssetClass, PolicyMode

__all__ = [
    "DEFAULT_SETTINGS_PATH",
    "ExecutionConfig",
    "RiskConfig",
    "Settings",
    "format_validation_error",
    "load_execution_config",
    "load_settings",
    "read_yaml",
]

DEFAULT_SETTINGS_PATH = Path(__file__).resolve().parent.parent / "config" / "settings.yaml"

_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)

PositiveFloat = Annotated[float, Field(gt=0)]
UnitInterval = Annotated[float, Field(gt=0, lt=1)]

# The seed's slippage caps (bps) by asset class: FX futures and index futures
# have the tightest spreads, single stocks the widest.
DEFAULT_SLIPPAGE_CAPS_BPS: dict[AssetClass, float] = {
    AssetClass.ETF: 10.0,
    AssetClass.STK: 12.0,
    AssetClass.FUT: 3.0,
    AssetClass.FX_FUT: 2.0,
}


class ExecutionConfig(BaseModel):
    """The ``execution:`` section (the seed's keys, names and defaults)."""

    model_config = _STRICT

    default_policy: Annotated[PolicyMode, Strict(False)] = PolicyMode.MARKETABLE_LIMIT
    allow_market_orders: bool = False
    order_ttl_seconds: PositiveFloat = 120
    replace_interval_seconds: PositiveFloat = 15
    max_replace_attempts: Annotated[int, Field(ge=0, le=50)] = 6
    default_max_slippage_bps: PositiveFloat = 10
    max_slippage_bps_by_asset_class: dict[
        Annotated[AssetClass, Strict(False)], PositiveFloat
    ] = Field(default_factory=lambda: dict(DEFAULT_SLIPPAGE_CAPS_BPS))
    min_trade_notional_usd: Annotated[float, Field(ge=0)] = 2500
    rebalance_drift_threshold_pct: UnitInterval = 0.02
    pair_max_legging_seconds: PositiveFloat = 60
    pair_hedge_enabled: bool = True
    pair_min_hedge_trigger_fill_pct: UnitInterval = 0.30
    adv_fraction_threshold: UnitInterval = 0.01
    max_participation_rate: Annotated[float, Field(gt=0, le=1)] = 0.10
    slice_interval_seconds: PositiveFloat = 20
    avoid_first_minutes_after_open: Annotated[float, Field(ge=0, le=240)] = 15
    avoid_last_minutes_before_close: Annotated[float, Field(ge=0, le=240)] = 10
    max_data_age_seconds: PositiveFloat = 30

    @model_validator(mode="after")
    def _cross_field_rules(self) -> ExecutionConfig:
        missing = [ac.value for ac in AssetClass if ac not in self.max_slippage_bps_by_asset_class]
        if missing:
            raise ValueError(
                f"max_slippage_bps_by_asset_class must give a cap for every asset class; "
                f"missing {missing}"
            )
        if self.replace_interval_seconds > self.order_ttl_seconds:
            raise ValueError(
                f"replace_interval_seconds ({self.replace_interval_seconds}) must not exceed "
                f"order_ttl_seconds ({self.order_ttl_seconds})"
            )
        if self.default_policy is PolicyMode.MARKET and not self.allow_market_orders:
            raise ValueError("default_policy 'market' requires allow_market_orders: true")
        return self

    def slippage_cap_bps(self, asset_class: AssetClass | None) -> float:
        """The collar half-width in bps for an asset class (default if unknown)."""
        if asset_class is None:
            return self.default_max_slippage_bps
        return self.max_slippage_bps_by_asset_class.get(asset_class, self.default_max_slippage_bps)


class RiskConfig(BaseModel):
    """Limits of the pre-trade controls (the ``risk:`` settings section).

    max_order_notional_usd: largest single order, USD.
    max_gross_notional_usd: largest sum of |order notional| per rebalance, USD.
    max_adv_fraction: largest order as a fraction of ADV (0.05 = 5%).
    kill_switch_file: path (relative to the working directory) whose existence blocks all submission.
    """

    model_config = _STRICT

    max_order_notional_usd: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5_000_000
    max_gross_notional_usd: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 25_000_000
    max_adv_fraction: Annotated[float, Field(gt=0, le=1)] = 0.05
    # While this file exists every submission is blocked (its text is the reason).
    kill_switch_file: str | None = "var/KILL_SWITCH"

    @model_validator(mode="after")
    def _order_within_gross(self) -> RiskConfig:
        if self.max_order_notional_usd > self.max_gross_notional_usd:
            raise ValueError(
                f"max_order_notional_usd ({self.max_order_notional_usd}) must not exceed "
                f"max_gross_notional_usd ({self.max_gross_notional_usd})"
            )
        return self


class Settings(BaseModel):
    """The whole settings file. Sections other than ``execution`` join as
    their features land; unknown sections are errors, not ignored."""

    model_config = _STRICT

    portfolio: str = "main"
    instruments_file: str = "config/instruments.yaml"
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)


def format_validation_error(file: str, exc: ValidationError, prefix: str = "") -> ConfigError:
    """Turn a pydantic error into one ConfigError naming every key path and rule."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "<root>")
        rule = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            rule = "unknown key (misspelt? allowed keys are the documented ones)"
        if err["loc"] and "input" in err and err["type"] not in ("missing", "extra_forbidden"):
            rule = f"{rule} (got {err['input']!r})"
        problems.append((path, rule))
    first_path, first_rule = problems[0]
    if len(problems) == 1:
        return ConfigError(file, first_path, first_rule)
    more = "; ".join(f"{p}: {r}" for p, r in problems[1:])
    return ConfigError(file, first_path, f"{first_rule}; also {more}")


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing file or bad YAML is a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "<file>", "file not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(p), "<file>", f"not valid YAML: {exc}") from exc


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate the settings file (default: config/settings.yaml)."""
    p = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    raw = read_yaml(p)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(str(p), "<root>", f"must be a mapping, got {type(raw).__name__}")
    try:
        return Settings.model_validate(dict(raw))
    except ValidationError as exc:
        raise format_validation_error(str(p), exc) from exc


def load_execution_config(
    settings: Mapping[str, Any] | Settings | str | Path | None = None,
    *,
    source: str = "settings",
) -> ExecutionConfig:
    """The seed's helper: the ``execution:`` section as an ExecutionConfig.

    ``settings`` may be the parsed settings mapping, a Settings model, a path to
    a settings file, or None for config/settings.yaml. A mapping without an
    ``execution`` key gives the defaults.
    """
    if isinstance(settings, Settings):
        return settings.execution
    if settings is None or isinstance(settings, str | Path):
        return load_settings(settings).execution
    section = settings.get("execution")
    if section is None:
        return ExecutionConfig()
    if not isinstance(section, Mapping):
        raise ConfigError(source, "execution", "must be a mapping")
    try:
        return ExecutionConfig.model_validate(dict(section))
    except ValidationError as exc:
        raise format_validation_error(source, exc, prefix="execution") from exc
