"""Typed configuration: ``config/settings.yaml`` as frozen pydantic models.

Every model is ``frozen=True, extra="forbid"``: a misspelt key, a wrong type
or an out-of-range value raises :class:`lib.errors.ConfigError` naming the
file, the dotted key path and the rule; nothing runs on a bad config.

Units: ``*_seconds`` in seconds, ``*_minutes_*`` in minutes, ``*_bps`` in basis
points, ``*_pct`` / ``*_rate`` / ``*_fraction*`` as fractions (0.02 = 2%),
``*_usd`` in US dollars.

Every number is finite and bounded (``.inf``/``.nan`` are errors): seconds at
most a day, slippage caps at most 1,000 bps (10% of mid), notionals at most
USD 1e12. The file is read by :func:`lib.safe_yaml.parse_yaml`: a duplicate key
(a second ``risk:``, a repeated key) is an error naming its line. A missing,
empty or null ``execution:`` or ``risk:`` section means its defaults, and
:func:`load_settings` logs a WARNING that lists the defaults in force.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from lib.brokers.ibkr_config import IBKRConfig
from lib.errors import ConfigError
from lib.safe_yaml import YamlRefused, parse_yaml
from lib.types import AssetClass, PolicyMode

__all__ = [
    "DEFAULT_SETTINGS_PATH",
    "PORTFOLIO_PATTERN",
    "ExecutionConfig",
    "FxConfig",
    "RiskConfig",
    "Settings",
    "defaults_notices",
    "format_validation_error",
    "load_execution_config",
    "load_settings",
    "read_yaml",
]

DEFAULT_SETTINGS_PATH = Path(__file__).resolve().parent.parent / "config" / "settings.yaml"

_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)

log = logging.getLogger(__name__)

#: Longest span (seconds) any timing key may take: one day.
MAX_SECONDS = 86_400.0
#: Widest slippage collar (bps of mid): 10%; wider is no collar at all.
MAX_BPS = 1_000.0
#: Largest notional (USD) any limit may name.
MAX_NOTIONAL_USD = 1e12

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
Bps = Annotated[float, Field(gt=0, le=MAX_BPS, allow_inf_nan=False)]
UnitInterval = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
Minutes = Annotated[float, Field(ge=0, le=240, allow_inf_nan=False)]
Notional = Annotated[float, Field(gt=0, le=MAX_NOTIONAL_USD, allow_inf_nan=False)]

#: A portfolio name is a short lowercase slug: it names files under var/ and
#: starts the default rebalance id ``<portfolio>-<YYYY-MM-DD>-<schedule_slug>``,
#: which must fit the 32-character id rule with a slug such as ``eu-session``.
PORTFOLIO_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,9}$"

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
    order_ttl_seconds: Seconds = 120
    replace_interval_seconds: Seconds = 15
    max_replace_attempts: Annotated[int, Field(ge=0, le=50)] = 6
    default_max_slippage_bps: Bps = 10
    max_slippage_bps_by_asset_class: dict[Annotated[AssetClass, Strict(False)], Bps] = Field(
        default_factory=lambda: dict(DEFAULT_SLIPPAGE_CAPS_BPS)
    )
    min_trade_notional_usd: Annotated[
        float, Field(ge=0, le=MAX_NOTIONAL_USD, allow_inf_nan=False)
    ] = 2500
    rebalance_drift_threshold_pct: UnitInterval = 0.02
    pair_max_legging_seconds: Seconds = 60
    pair_hedge_enabled: bool = True
    pair_min_hedge_trigger_fill_pct: UnitInterval = 0.30
    adv_fraction_threshold: UnitInterval = 0.01
    max_participation_rate: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.10
    slice_interval_seconds: Seconds = 20
    avoid_first_minutes_after_open: Minutes = 15
    avoid_last_minutes_before_close: Minutes = 10
    max_data_age_seconds: Seconds = 30
    # Widest quote (ask - bid, bps of the mid) a plan may be priced from: a collar
    # centred on the mid of a 100x-wide quote is meaningless. 200 bps is ~100x
    # the widest profile spread in instruments.yaml (FESX 2 bps).
    max_spread_bps: Bps = 200
    # Parent risk budget (unitless k): limit orders' collar half-width grows from the
    # asset-class cap by k * sigma_daily * sqrt((schedule + TTL) / session), in bps;
    # 0 keeps the collar fixed at the cap.
    collar_budget_k: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    # Hard emergency band (bps of the arrival mid) when collar_budget_k > 0: no price of
    # a parent or any of its children may pass it, however long the schedule or
    # volatile the market (never narrower than the asset-class cap).
    emergency_band_bps: Bps = 250
    # A POV schedule longer than the time left raises its participation to end before the close.
    fit_schedule_to_session: bool = False
    # Urgency rule (multiple of the displayed far-touch size): an order larger than this
    # multiple is sliced (POV) even below adv_fraction_threshold; 0 = off.
    slice_above_book_multiple: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)] = 0.0

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
    kill_switch_file: path (relative to the working directory) whose existence blocks all
      submission; ``null`` switches the file kill switch off explicitly, ``''`` is refused.
    """

    model_config = _STRICT

    max_order_notional_usd: Notional = 5_000_000
    max_gross_notional_usd: Notional = 25_000_000
    max_adv_fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.05
    # gross notional (base currency) at most this multiple of NAV; and at most
    # the broker's buying power where it reports one
    max_gross_nav_fraction: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 2.0
    # orders + cancels + modifies per second of clock time (IBKR paces at 50)
    max_messages_per_second: Annotated[float, Field(gt=0, le=1_000, allow_inf_nan=False)] = 50
    # While this file exists every submission is blocked (its text is the reason).
    kill_switch_file: str | None = "var/KILL_SWITCH"

    @field_validator("kill_switch_file")
    @classmethod
    def _kill_switch_named(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or value.endswith(("/", "\\"))):
            raise ValueError(
                "must name a file (null switches the file kill switch off explicitly; "
                "an empty path would switch it off silently)"
            )
        return value

    @model_validator(mode="after")
    def _order_within_gross(self) -> RiskConfig:
        if self.max_order_notional_usd > self.max_gross_notional_usd:
            raise ValueError(
                f"max_order_notional_usd ({self.max_order_notional_usd}) must not exceed "
                f"max_gross_notional_usd ({self.max_gross_notional_usd})"
            )
        return self


class FxConfig(BaseModel):
    """The ``fx:`` section: the fallback FX table (used when neither the broker
    nor the simulator has a rate) and the staleness limit of every rate.

    fallback_rates: currency -> base-currency units per one unit (EUR: 1.08).
    fallback_as_of: when the fallback table was taken (ISO time with zone);
      required when fallback_rates is not empty.
    max_age_seconds: a rate older than this (clock seconds) is stale: the
      orders in that currency are blocked.
    """

    model_config = _STRICT

    fallback_rates: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], PositiveFloat] = Field(
        default_factory=dict
    )
    fallback_as_of: Annotated[datetime, Strict(False)] | None = None
    max_age_seconds: Annotated[float, Field(gt=0, le=30 * MAX_SECONDS, allow_inf_nan=False)] = (
        MAX_SECONDS
    )

    @model_validator(mode="after")
    def _as_of_given(self) -> FxConfig:
        if self.fallback_rates and self.fallback_as_of is None:
            raise ValueError("fallback_rates need fallback_as_of (when the rates were taken)")
        if self.fallback_as_of is not None and self.fallback_as_of.tzinfo is None:
            raise ValueError("fallback_as_of needs a time zone (e.g. 2026-12-01T16:00:00Z)")
        return self


class Settings(BaseModel):
    """The whole settings file. Sections other than ``execution`` join as
    their features land; unknown sections are errors, not ignored."""

    model_config = _STRICT

    portfolio: str = "main"
    instruments_file: str = "config/instruments.yaml"
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    base_currency: Literal["USD"] = "USD"  # every limit, summary and metric (lib/fx.py)
    fx: FxConfig = Field(default_factory=FxConfig)
    ibkr: IBKRConfig = Field(default_factory=IBKRConfig)  # lib/brokers/ibkr_config.py

    @field_validator("portfolio")
    @classmethod
    def _portfolio_slug(cls, value: str) -> str:
        if not re.fullmatch(PORTFOLIO_PATTERN, value):
            raise ValueError(
                "must be a short slug: 1-10 of a-z 0-9 _ - starting with a letter or digit "
                "(it names files under var/ and starts the default rebalance id)"
            )
        return value

    @field_validator("instruments_file")
    @classmethod
    def _instruments_is_a_yaml_file(cls, value: str) -> str:
        if not value.strip() or not value.lower().endswith((".yaml", ".yml")):
            raise ValueError("must name a .yaml/.yml file")
        return value


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
    """Parse a YAML file (see :mod:`lib.safe_yaml`). A missing file, a folder,
    bad YAML, aliases or duplicate keys are a ConfigError naming the line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "<file>", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(p), "<file>", "is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(p), "<file>", f"not UTF-8 text (undecodable byte at offset {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(str(p), "<file>", f"cannot read: {exc.strerror}") from None
    try:
        parsed = parse_yaml(text)
    except YamlRefused as exc:
        where = f"line {exc.line}" if exc.line is not None else "<file>"
        raise ConfigError(str(p), where, exc.rule) from None
    if parsed.problems:
        described = [
            (f"{'.'.join(str(k) for k in pr.path)} (line {pr.line})", pr.rule)
            for pr in parsed.problems
        ]
        (first_path, first_rule), *rest = described
        more = "".join(f"; also {path}: {rule}" for path, rule in rest)
        raise ConfigError(str(p), first_path, first_rule + more)
    return parsed.data


_SECTIONS: dict[str, type[BaseModel]] = {"execution": ExecutionConfig, "risk": RiskConfig}


def defaults_notices(file: str, raw: Mapping[str, Any]) -> list[str]:
    """One line per ``execution:``/``risk:`` section that is missing, empty or
    null, naming the defaults then in force."""
    out: list[str] = []
    for name, model in _SECTIONS.items():
        if raw.get(name) in (None, {}):
            values = ", ".join(f"{k}={v}" for k, v in model().model_dump(mode="json").items())
            state = "missing" if name not in raw else "empty"
            out.append(f"{file}: section '{name}:' is {state}; defaults in force: {values}")
    return out


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate the settings file (default: config/settings.yaml).

    A missing/empty/null ``execution:`` or ``risk:`` section takes its
    defaults, and a WARNING on logger ``lib.config`` lists them.
    """
    p = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    raw = read_yaml(p)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(str(p), "<root>", f"must be a mapping, got {type(raw).__name__}")
    notices = defaults_notices(str(p), raw)
    data = {k: ({} if k in _SECTIONS and v is None else v) for k, v in raw.items()}
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(str(p), exc) from exc
    for notice in notices:
        log.warning("%s", notice)
    return settings


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
