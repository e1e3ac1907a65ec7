"""Weight targets in a non-base currency are sized through the FX rate
(NAV in USD, FESX priced in EUR); a missing or stale rate is an error naming
the target, and nothing is traded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import FxUnavailable
from lib.fx import FxTable, StaticFxSource
from lib.instruments import InstrumentRegistry
from lib.targets import TargetsFile, compute_trades, load_targets

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
PRICES = {"FESX": 5000.0, "SPY": 500.0}  # FESX in EUR, multiplier 10
WEIGHTS = "sleeves:\n  rp:\n    targets: {mode: weight, weights: {FESX: 0.1, SPY: 0.2}}\n"


def _targets(tmp_path: Path, instruments: InstrumentRegistry, text: str) -> TargetsFile:
    p = tmp_path / "t.yaml"
    p.write_text(text, encoding="utf-8")
    return load_targets(p, instruments)


def _fx(rates: dict[str, float], as_of: datetime = T0, max_age: float = 3600.0) -> FxTable:
    return FxTable(VirtualClock(T0), [StaticFxSource(rates, as_of)], max_age_seconds=max_age)


def test_fesx_registry_is_eur_with_multiplier_10(instruments: InstrumentRegistry) -> None:
    assert instruments["FESX"].currency == "EUR" and instruments["FESX"].multiplier == 10


@pytest.mark.parametrize(("rate", "expected"), [(1.25, 16), (1.08, 18), (0.8, 25)])
def test_weight_target_sized_in_base_currency(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig,
    rate: float, expected: int,
) -> None:
    t = _targets(tmp_path, instruments, WEIGHTS)
    tl = compute_trades(t, {}, PRICES, 10_000_000, instruments, exec_config, "rb",
                        fx=_fx({"EUR": rate}))
    got = {i.symbol: i.signed_quantity for i in tl.intents}
    # 1,000,000 USD / (5000 EUR * 10 * rate USD/EUR) contracts, toward zero
    assert got["FESX"] == expected  # 20 if the EUR price were taken as USD
    assert got["SPY"] == 4000  # USD instrument: rate 1


@pytest.mark.parametrize(("rate", "trades"), [(1.5, True), (0.8, False)])
def test_drift_notional_of_a_eur_diff_is_converted(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig,
    rate: float, trades: bool,
) -> None:
    # one FESX contract is 50,000 EUR; NAV chosen so the threshold is 50,000 USD
    nav = 50_000 / exec_config.rebalance_drift_threshold_pct
    t = _targets(tmp_path, instruments,
                 "sleeves:\n  rp:\n    targets: {mode: quantity, positions: {FESX: 3}}\n")
    tl = compute_trades(t, {"rp": {"FESX": 2}}, PRICES, nav, instruments, exec_config,
                        "rb", fx=_fx({"EUR": rate}))
    if trades:  # 75,000 USD >= threshold
        assert [(i.symbol, i.quantity) for i in tl.intents] == [("FESX", 1)]
        assert tl.skipped == ()
    else:  # 40,000 USD < threshold: skipped, reported in USD
        assert tl.intents == ()
        assert tl.skipped[0].notional_usd == pytest.approx(40_000)


@pytest.mark.parametrize("case", ["missing", "stale", "no_table"])
def test_weight_target_without_usable_rate_is_an_error_naming_it(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig, case: str
) -> None:
    t = _targets(tmp_path, instruments, WEIGHTS)
    fx = {
        "missing": _fx({"GBP": 1.3}),
        "stale": _fx({"EUR": 1.1}, as_of=T0 - timedelta(days=3)),
        "no_table": None,
    }[case]
    with pytest.raises(FxUnavailable) as info:
        compute_trades(t, {}, PRICES, 10_000_000, instruments, exec_config, "rb", fx=fx)
    msg = str(info.value)
    assert info.value.currency == "EUR" and "rp/FESX" in msg and "t.yaml" in msg
    if case == "stale":
        assert "stale" in msg
