"""Hostile and careless settings files (issue 7): every number finite and in
range, duplicate keys refused with their line, paths that cannot work refused,
a safe portfolio slug, and defaults announced when a section is missing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lib.config import MAX_BPS, MAX_SECONDS, RiskConfig, Settings, load_settings
from lib.errors import ConfigError
from lib.instruments import load_instruments
from lib.params import RebalanceParams
from lib.runtime import clear_runtimes, open_runtime

ROOT = Path(__file__).resolve().parents[2]

EXEC_NUMBERS = [
    "order_ttl_seconds", "replace_interval_seconds", "default_max_slippage_bps",
    "min_trade_notional_usd", "pair_max_legging_seconds", "slice_interval_seconds",
    "max_data_age_seconds", "max_participation_rate", "adv_fraction_threshold",
    "pair_min_hedge_trigger_fill_pct", "rebalance_drift_threshold_pct",
    "avoid_first_minutes_after_open", "avoid_last_minutes_before_close",
]
RISK_NUMBERS = ["max_order_notional_usd", "max_gross_notional_usd", "max_adv_fraction"]


def _settings(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _error(tmp_path: Path, text: str) -> ConfigError:
    p = _settings(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(p)
    assert str(info.value).startswith(f"{p}: "), str(info.value)
    return info.value


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
@pytest.mark.parametrize("key", EXEC_NUMBERS)
def test_execution_numbers_must_be_finite(tmp_path: Path, key: str, value: str) -> None:
    err = _error(tmp_path, f"execution:\n  {key}: {value}\n")
    assert err.path == f"execution.{key}"


@pytest.mark.parametrize("value", [".inf", ".nan"])
@pytest.mark.parametrize("key", RISK_NUMBERS)
def test_risk_numbers_must_be_finite(tmp_path: Path, key: str, value: str) -> None:
    assert _error(tmp_path, f"risk:\n  {key}: {value}\n").path == f"risk.{key}"


@pytest.mark.parametrize("asset_class", ["ETF", "STK", "FUT", "FX_FUT"])
@pytest.mark.parametrize("value", [".inf", "1e300", str(MAX_BPS + 1)])
def test_slippage_caps_are_finite_and_at_most_max_bps(
    tmp_path: Path, asset_class: str, value: str
) -> None:
    # Before: .inf accepted for FX_FUT and an OverflowError later for the others.
    caps = ", ".join(f"{a}: {value if a == asset_class else 5}" for a in ["ETF", "STK", "FUT", "FX_FUT"])
    err = _error(tmp_path, f"execution:\n  max_slippage_bps_by_asset_class: {{{caps}}}\n")
    assert err.path == f"execution.max_slippage_bps_by_asset_class.{asset_class}"


def test_seconds_are_at_most_a_day(tmp_path: Path) -> None:
    err = _error(tmp_path, f"execution:\n  slice_interval_seconds: {MAX_SECONDS * 2}\n")
    assert err.path == "execution.slice_interval_seconds" and "less than or equal" in err.rule


def test_a_second_risk_section_is_an_error_naming_its_line(tmp_path: Path) -> None:
    err = _error(tmp_path, "risk:\n  max_adv_fraction: 0.05\nrisk:\n  max_adv_fraction: 0.5\n")
    assert err.path == "risk (line 3)" and "first at line 1" in err.rule


def test_a_repeated_key_is_an_error_and_every_duplicate_is_listed(tmp_path: Path) -> None:
    err = _error(
        tmp_path,
        "execution:\n  max_replace_attempts: 6\n  max_replace_attempts: 40\n"
        "portfolio: main\nportfolio: other\n",
    )
    assert err.path == "execution.max_replace_attempts (line 3)"
    assert "also portfolio (line 5): duplicate key 'portfolio'" in err.rule


def test_aliases_and_control_characters_are_refused(tmp_path: Path) -> None:
    assert "aliases" in _error(tmp_path, "a: &x 1\nportfolio: *x\n").rule
    err = _error(tmp_path, "portfolio: main\x07\n")
    assert err.path == "line 1" and "control characters" in err.rule


@pytest.mark.parametrize("value", ["''", "config/", "config/instruments.json"])
def test_instruments_file_must_name_a_yaml_file(tmp_path: Path, value: str) -> None:
    assert _error(tmp_path, f"instruments_file: {value}\n").path == "instruments_file"


def test_instruments_file_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "instruments.yaml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_instruments(folder)


@pytest.mark.parametrize("value", ["''", "'  '", "var/"])
def test_kill_switch_file_cannot_be_switched_off_by_an_empty_path(
    tmp_path: Path, value: str
) -> None:
    err = _error(tmp_path, f"risk:\n  kill_switch_file: {value}\n")
    assert err.path == "risk.kill_switch_file" and "null switches" in err.rule
    assert RiskConfig(kill_switch_file=None).kill_switch_file is None  # explicit off stays


@pytest.mark.parametrize(
    "value", ["../../escape", "/abs", "a/b", "Main", "x" * 11, "'-lead'", "''", "'..'"]
)
def test_portfolio_is_a_short_safe_slug(tmp_path: Path, value: str) -> None:
    assert _error(tmp_path, f"portfolio: {value}\n").path == "portfolio"


def test_longest_portfolio_and_slug_still_make_a_valid_default_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "config" / "settings.yaml").read_text().replace("portfolio: main", "portfolio: p123456789")
    settings = _settings(tmp_path, text)
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    start = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    db = f"sqlite:///{tmp_path / 'l.sqlite'}"
    clear_runtimes()
    try:
        rt = open_runtime(RebalanceParams(targets="x.yaml", settings=str(settings),
                                          schedule_slug="eu-session", sim_start=start),
                          database_url=db)
        assert rt.rebalance_id == "p123456789-2026-11-24-eu-session"
        with pytest.raises(ConfigError, match="breaks the id rule"):
            open_runtime(RebalanceParams(targets="x.yaml", settings=str(settings),
                                         schedule_slug="a-very-long-slug", sim_start=start),
                         database_url=db)
    finally:
        clear_runtimes()


@pytest.mark.parametrize(
    ("text", "missing", "empty"),
    [
        ("portfolio: main\n", ["execution", "risk"], []),
        ("execution:\nrisk: {}\n", [], ["execution", "risk"]),
        ("execution: {order_ttl_seconds: 60}\n", ["risk"], []),
    ],
)
def test_defaults_in_force_are_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, missing: list[str],
    empty: list[str],
) -> None:
    p = _settings(tmp_path, text)
    with caplog.at_level(logging.WARNING, logger="lib.config"):
        settings = load_settings(p)
    notes = [r.getMessage() for r in caplog.records if r.name == "lib.config"]
    assert len(notes) == len(missing) + len(empty)
    for name in missing:
        assert any(f"section '{name}:' is missing; defaults in force:" in n for n in notes)
    for name in empty:
        assert any(f"section '{name}:' is empty; defaults in force:" in n for n in notes)
    if "risk" in missing + empty:
        assert any("kill_switch_file=var/KILL_SWITCH" in n for n in notes)
    assert isinstance(settings, Settings)


def test_the_shipped_settings_announce_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lib.config"):
        load_settings()
    assert [r for r in caplog.records if r.name == "lib.config"] == []
