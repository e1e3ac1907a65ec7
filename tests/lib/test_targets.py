"""Targets input: loading/validation (YAML and CSV) and targets -> trades."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.config import ExecutionConfig
from lib.errors import InputError, MarketDataRejected, UnknownInstrument
from lib.instruments import InstrumentRegistry
from lib.targets import (
    SkippedTrade,
    TargetMode,
    TargetsFile,
    compute_trades,
    load_targets,
    weight_to_quantity,
)
from lib.types import AssetClass, Side

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def load_error(path: Path, registry: InstrumentRegistry) -> InputError:
    with pytest.raises(InputError) as info:
        load_targets(path, registry)
    return info.value


def assert_names(err: InputError, path: Path, where: str, field: str, rule: str) -> None:
    """The message names the file, the row/location, the field and the rule."""
    msg = str(err)
    assert msg.startswith(f"{path}: "), msg
    assert where in msg, msg
    assert err.field == field, msg
    assert f": {field}: " in msg, msg
    assert rule in msg, msg


# ----------------------------------------------------------------- good files


def test_example_yaml_loads(instruments: InstrumentRegistry) -> None:
    t = load_targets(ROOT / "config" / "targets.example.yaml", instruments)
    assert list(t.sleeves) == ["trend", "carry", "risk_parity", "relval"]
    trend = t.sleeves["trend"].trades
    assert trend is not None and (trend[0].symbol, trend[0].side, trend[0].quantity) == (
        "ES",
        Side.BUY,
        2,
    )
    carry = t.sleeves["carry"].targets
    assert carry is not None and carry.mode is TargetMode.QUANTITY
    assert carry.positions == {"TLT": -300, "GLD": 400}
    rp = t.sleeves["risk_parity"].targets
    assert rp is not None and rp.weights == {"QQQ": 0.30, "IWM": 0.20, "EFA": -0.10}
    assert t.pairs[0].group == "us_eu" and t.pairs[0].hedge_symbol == "ES"
    assert t.rebalance.portfolio == "main"
    assert t.source.endswith("targets.example.yaml")


def test_example_csv_loads(instruments: InstrumentRegistry) -> None:
    t = load_targets(ROOT / "config" / "targets.example.csv", instruments)
    relval = t.sleeves["relval"].trades
    assert relval is not None
    assert [(x.symbol, x.side, x.quantity) for x in relval] == [
        ("SPY", Side.BUY, 1000),
        ("CSPX", Side.SELL, 980),
    ]
    assert t.pairs == ()


def test_csv_weights_and_quantities_any_column_order(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    w = write(tmp_path, "w.csv", "symbol,target_weight,sleeve\nSPY,0.3,rp\nTLT,-0.2,rp\n")
    rp = load_targets(w, instruments).sleeves["rp"].targets
    assert (
        rp is not None and rp.mode is TargetMode.WEIGHT and rp.weights == {"SPY": 0.3, "TLT": -0.2}
    )
    q = write(tmp_path, "q.csv", "sleeve,symbol,target_quantity\ncarry,SPY,1200\ncarry,TLT,-300\n")
    carry = load_targets(q, instruments).sleeves["carry"].targets
    assert carry is not None and carry.positions == {"SPY": 1200, "TLT": -300}


def test_csv_side_is_case_insensitive_and_integral_float_accepted(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    p = write(tmp_path, "t.csv", "sleeve,symbol,side,quantity\ntrend,ES, sell ,2.0\n")
    trades = load_targets(p, instruments).sleeves["trend"].trades
    assert trades is not None and (trades[0].side, trades[0].quantity) == (Side.SELL, 2)


# ------------------------------------------------------ YAML validation rules

TRADES_YAML = """\
sleeves:
  trend:
    trades:
      - {{symbol: ES, side: BUY, quantity: 2}}
      - {{symbol: {sym}, side: {side}, quantity: {qty}}}
"""


def _trades_yaml(tmp_path: Path, sym: str = "MES", side: str = "BUY", qty: str = "1") -> Path:
    return write(tmp_path, "t.yaml", TRADES_YAML.format(sym=sym, side=side, qty=qty))


def test_yaml_unknown_symbol(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _trades_yaml(tmp_path, sym="NOPE")
    err = load_error(p, instruments)
    assert_names(err, p, "sleeves.trend.trades[1] (line 5)", "symbol", "unknown symbol 'NOPE'")


def test_yaml_negative_trade_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _trades_yaml(tmp_path, qty="-3")
    err = load_error(p, instruments)
    assert_names(err, p, "sleeves.trend.trades[1] (line 5)", "quantity", "positive integer")
    assert "-3" in str(err)


def test_yaml_zero_trade_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _trades_yaml(tmp_path, qty="0")
    assert_names(load_error(p, instruments), p, "trades[1]", "quantity", "positive integer")


def test_yaml_fractional_trade_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _trades_yaml(tmp_path, qty="2.5")
    assert_names(load_error(p, instruments), p, "trades[1] (line 5)", "quantity", "fractional")


def test_yaml_bad_side(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _trades_yaml(tmp_path, side="HOLD")
    assert_names(load_error(p, instruments), p, "trades[1] (line 5)", "side", "BUY or SELL")


def test_yaml_duplicate_trade_row(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _trades_yaml(tmp_path, sym="ES")
    err = load_error(p, instruments)
    assert_names(err, p, "sleeves.trend.trades[1] (line 5)", "symbol", "duplicate row")
    assert "sleeves.trend.trades[0] (line 4)" in str(err)  # points at the first one too


def test_yaml_fractional_target_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(
        tmp_path,
        "t.yaml",
        "sleeves:\n  carry:\n    targets:\n      mode: quantity\n      positions: {SPY: 10.5}\n",
    )
    err = load_error(p, instruments)
    assert_names(err, p, "sleeves.carry.targets.positions (line 5)", "SPY", "fractional")


def test_yaml_duplicate_key_is_a_duplicate_row(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    # PyYAML alone would keep the last SPY silently.
    text = "sleeves:\n  carry:\n    targets:\n      mode: quantity\n      positions:\n        SPY: 1\n        SPY: 2\n"
    p = write(tmp_path, "t.yaml", text)
    err = load_error(p, instruments)
    assert_names(err, p, "sleeves.carry.targets.positions (line 7)", "SPY", "duplicate key")
    assert "first at line 6" in str(err)


def test_yaml_weights_gross_over_one(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = (
        "sleeves:\n  rp:\n    targets: {mode: weight, weights: {SPY: 0.6, TLT: -0.5, GLD: 0.1}}\n"
    )
    p = write(tmp_path, "t.yaml", text)
    err = load_error(p, instruments)
    assert_names(err, p, "sleeves.rp.targets (line 3)", "weights", "sum of |weights| must be <= 1")
    assert "got 1.2" in str(err) and "limit passed at TLT" in str(err)


def test_yaml_weights_gross_exactly_one_is_allowed(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    text = (
        "sleeves:\n  rp:\n    targets: {mode: weight, weights: {SPY: 0.1, TLT: -0.2, GLD: 0.7}}\n"
    )
    rp = load_targets(write(tmp_path, "t.yaml", text), instruments).sleeves["rp"].targets
    assert rp is not None and rp.weights is not None
    assert math.isclose(sum(abs(w) for w in rp.weights.values()), 1.0)


def test_yaml_unknown_symbol_in_targets(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = "sleeves:\n  rp:\n    targets: {mode: weight, weights: {SPY: 0.1, XYZ: 0.2}}\n"
    p = write(tmp_path, "t.yaml", text)
    # The field is the key's role (symbol, as in CSV); the rule names the symbol.
    assert_names(
        load_error(p, instruments), p, "sleeves.rp.targets.weights (line 3)", "symbol",
        "unknown symbol 'XYZ'",
    )


def test_yaml_trades_and_targets_both(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = (
        "sleeves:\n  x:\n    trades: [{symbol: ES, side: BUY, quantity: 1}]\n"
        "    targets: {mode: quantity, positions: {SPY: 1}}\n"
    )
    p = write(tmp_path, "t.yaml", text)
    assert_names(load_error(p, instruments), p, "sleeves (line 2)", "x", "exactly one of")


def test_yaml_unknown_key(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = "sleeves:\n  trend:\n    trades:\n      - {symbol: ES, side: BUY, quantity: 1, qty: 2}\n"
    p = write(tmp_path, "t.yaml", text)
    assert_names(
        load_error(p, instruments), p, "sleeves.trend.trades[0] (line 4)", "qty", "unknown key"
    )


PAIR_YAML = """\
sleeves:
  relval:
    trades:
      - {{symbol: SPY, side: BUY, quantity: 100}}
      - {{symbol: CSPX, side: SELL, quantity: 98}}
pairs:
  - group: us_eu
    legs:
      - {{sleeve: relval, symbol: SPY}}
      - {{sleeve: {sleeve}, symbol: {symbol}}}
"""


def test_yaml_pair_unknown_sleeve(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "t.yaml", PAIR_YAML.format(sleeve="relvol", symbol="CSPX"))
    err = load_error(p, instruments)
    assert_names(err, p, "pairs[0].legs[1] (line 10)", "sleeve", "unknown sleeve 'relvol'")


def test_yaml_pair_leg_without_request(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "t.yaml", PAIR_YAML.format(sleeve="relval", symbol="EFA"))
    err = load_error(p, instruments)
    assert_names(err, p, "pairs[0].legs[1] (line 10)", "symbol", "has no trade or target for 'EFA'")


def test_yaml_pair_needs_two_legs(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = PAIR_YAML.format(sleeve="relval", symbol="CSPX").replace(
        "      - {sleeve: relval, symbol: CSPX}\n", ""
    )
    p = write(tmp_path, "t.yaml", text)
    assert_names(load_error(p, instruments), p, "pairs[0] (line 8)", "legs", "at least 2")


def test_yaml_leg_in_two_pairs(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = PAIR_YAML.format(sleeve="relval", symbol="CSPX") + (
        "  - group: other\n    legs: [{sleeve: relval, symbol: CSPX}, {sleeve: relval, symbol: SPY}]\n"
    )
    p = write(tmp_path, "t.yaml", text)
    err = load_error(p, instruments)
    assert_names(err, p, "pairs[1].legs[0] (line 12)", "symbol", "already in pair 'us_eu'")


def test_yaml_pair_unknown_hedge(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = PAIR_YAML.format(sleeve="relval", symbol="CSPX") + "    hedge_symbol: NQ\n"
    p = write(tmp_path, "t.yaml", text)
    assert_names(
        load_error(p, instruments), p, "pairs[0] (line 11)", "hedge_symbol", "unknown symbol 'NQ'"
    )


def test_yaml_syntax_error_names_line(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "t.yaml", "sleeves:\n  trend: {trades: [\n")
    err = load_error(p, instruments)
    assert_names(err, p, "line 3", "<file>", "not valid YAML")


def test_yaml_not_a_mapping(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "t.yaml", "- SPY\n- TLT\n")
    assert_names(load_error(p, instruments), p, "file", "<root>", "must be a mapping")


# -------------------------------------------------------- file-level rules


@pytest.mark.parametrize(
    ("name", "content"),
    [("t.yaml", ""), ("t.yml", "# only a comment\n"), ("t.csv", "  \n")],
)
def test_empty_file(
    tmp_path: Path, instruments: InstrumentRegistry, name: str, content: str
) -> None:
    p = write(tmp_path, name, content)
    assert_names(load_error(p, instruments), p, "file", "<file>", "empty")


def test_yaml_with_no_sleeves(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "t.yaml", "sleeves: {}\n")
    assert_names(load_error(p, instruments), p, "<root>", "sleeves", "at least 1")


def test_wrong_file_type(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "targets.json", '{"sleeves": {}}')
    assert_names(load_error(p, instruments), p, "file", "<file>", "unsupported file type '.json'")


def test_undecodable_content(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "t.csv", b"sleeve,symbol,side,quantity\ntrend,\xff\xfe,BUY,1\n")
    assert_names(
        load_error(p, instruments),
        p,
        "file",
        "<file>",
        "not UTF-8 text (undecodable byte at offset 34)",
    )


def test_binary_content(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = write(tmp_path, "t.yaml", b"sleeves:\x00\x01\x02")
    assert_names(load_error(p, instruments), p, "file", "<file>", "NUL bytes")


def test_missing_file(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = tmp_path / "nope.yaml"
    assert_names(load_error(p, instruments), p, "file", "<file>", "file not found")


# ------------------------------------------------------- CSV validation rules

TRADES_HEADER = "sleeve,symbol,side,quantity\n"


def _csv(tmp_path: Path, body: str, header: str = TRADES_HEADER) -> Path:
    return write(tmp_path, "t.csv", header + body)


def test_csv_unknown_symbol(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,1\ntrend,spy,BUY,1\n")
    assert_names(load_error(p, instruments), p, "row 2", "symbol", "unknown symbol 'spy'")


def test_csv_negative_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,1\ntrend,MES,SELL,1\ncarry,TLT,BUY,-5\n")
    assert_names(load_error(p, instruments), p, "row 3", "quantity", "positive integer")


def test_csv_fractional_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,1.5\n")
    assert_names(load_error(p, instruments), p, "row 1", "quantity", "fractional quantity '1.5'")


def test_csv_non_numeric_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,two\n")
    assert_names(load_error(p, instruments), p, "row 1", "quantity", "not a number")


def test_csv_bad_side(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,1\ntrend,MES,SHORT,1\n")
    assert_names(load_error(p, instruments), p, "row 2", "side", "BUY or SELL")


def test_csv_duplicate_trade_row(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,1\ncarry,ES,BUY,1\ntrend,ES,SELL,3\n")
    err = load_error(p, instruments)
    assert_names(err, p, "row 3", "symbol", "duplicate row")
    assert "at row 1" in str(err)


def test_csv_duplicate_target_row(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "carry,SPY,10\ncarry,SPY,20\n", header="sleeve,symbol,target_quantity\n")
    err = load_error(p, instruments)
    assert_names(err, p, "row 2", "symbol", "duplicate row")
    assert "already on row 1" in str(err)


def test_csv_fractional_target_quantity(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "carry,SPY,10\ncarry,TLT,-0.5\n", header="sleeve,symbol,target_quantity\n")
    assert_names(load_error(p, instruments), p, "row 2", "target_quantity", "fractional")


def test_csv_weights_over_one_points_at_the_row(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    body = "rp,SPY,0.5\nother,SPY,0.9\nrp,TLT,-0.4\nrp,GLD,0.3\n"
    p = _csv(tmp_path, body, header="sleeve,symbol,target_weight\n")
    err = load_error(p, instruments)
    # rp: 0.5 + 0.4 = 0.9, then + 0.3 = 1.2 on row 4
    assert_names(err, p, "row 4", "target_weight", "sum of |weights| must be <= 1")


def test_csv_bad_header(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,1\n", header="sleeve,ticker,side,quantity\n")
    assert_names(
        load_error(p, instruments), p, "header (line 1)", "header", "columns must be exactly one of"
    )


def test_csv_header_only(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "\n")
    assert_names(load_error(p, instruments), p, "file", "<file>", "no data rows")


def test_csv_wrong_column_count(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, "trend,ES,BUY,1\n\ntrend,MES,BUY\n")  # the blank line is row 2
    assert_names(load_error(p, instruments), p, "row 3", "(row)", "expected 4 columns, got 3")


def test_csv_empty_sleeve(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    p = _csv(tmp_path, ",ES,BUY,1\n")
    assert_names(load_error(p, instruments), p, "row 1", "sleeve", "is empty")


# ----------------------------------------------------------- compute_trades


def _targets(tmp_path: Path, instruments: InstrumentRegistry, text: str) -> TargetsFile:
    return load_targets(write(tmp_path, "t.yaml", text), instruments)


PRICES = {"SPY": 500.0, "TLT": 90.0, "GLD": 250.0, "ES": 6000.0, "CSPX": 600.0, "EFA": 80.0}


def test_trades_pass_through(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    t = _targets(
        tmp_path,
        instruments,
        "sleeves:\n  trend:\n    trades:\n      - {symbol: ES, side: SELL, quantity: 1}\n      - {symbol: SPY, side: BUY, quantity: 1}\n",
    )
    tl = compute_trades(t, {"trend": {"ES": 5}}, {}, 0.0, instruments, exec_config, "rb-1")
    assert [(i.intent_id, i.side, i.quantity, i.asset_class) for i in tl.intents] == [
        ("rb-1:trend:ES", Side.SELL, 1, AssetClass.FUT),
        ("rb-1:trend:SPY", Side.BUY, 1, AssetClass.ETF),  # $500: far below drift, still traded
    ]
    assert all(i.sleeve == "trend" and i.pair_group is None for i in tl.intents)
    assert tl.skipped == () and tl.rebalance_id == "rb-1"


def test_quantity_targets_are_diffed_and_unlisted_holdings_closed(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    t = _targets(
        tmp_path,
        instruments,
        "sleeves:\n  carry:\n    targets: {mode: quantity, positions: {SPY: 1200, TLT: -300}}\n",
    )
    books = {"carry": {"SPY": 1000, "TLT": -300, "GLD": 400}}
    # NAV 1M -> threshold $20k: SPY +200 x $500 = $100k, GLD -400 x $250 = $100k
    tl = compute_trades(t, books, PRICES, 1_000_000, instruments, exec_config, "rb")
    assert [(i.symbol, i.side, i.quantity) for i in tl.intents] == [
        ("SPY", Side.BUY, 200),
        ("GLD", Side.SELL, 400),
    ]  # TLT already at target: neither traded nor reported


def test_weights_convert_floor_toward_zero(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    t = _targets(
        tmp_path,
        instruments,
        "sleeves:\n  rp:\n    targets: {mode: weight, weights: {SPY: 0.3, TLT: -0.2, ES: 0.1}}\n",
    )
    prices = {"SPY": 590.0, "TLT": 90.0, "ES": 6000.0}
    tl = compute_trades(t, {}, prices, 10_000_000, instruments, exec_config, "rb")
    got = {i.symbol: i.signed_quantity for i in tl.intents}
    # 3,000,000 / 590 = 5084.7 -> 5084; -2,000,000 / 90 = -22222.2 -> -22222 (toward zero);
    # 1,000,000 / (6000 * 50) = 3.33 -> 3 contracts
    assert got == {"SPY": 5084, "TLT": -22222, "ES": 3}


def test_weight_to_quantity_float_noise() -> None:
    assert 0.29 * 100 < 29  # 28.999999999999996
    assert weight_to_quantity(0.29, 100, 1.0, 1.0) == 29
    assert weight_to_quantity(-0.29, 100, 1.0, 1.0) == -29
    assert weight_to_quantity(0.3, 1_000_000, 6000.0, 50.0) == 1


@given(
    w=st.floats(-1, 1, allow_nan=False),
    nav=st.floats(1e3, 1e9),
    price=st.floats(0.01, 1e5),
    mult=st.sampled_from([1.0, 5.0, 50.0, 125_000.0]),
)
def test_weight_to_quantity_never_exceeds_the_weight(
    w: float, nav: float, price: float, mult: float
) -> None:
    q = weight_to_quantity(w, nav, price, mult)
    assert abs(q) * price * mult <= abs(w) * nav * (1 + 1e-6) + 1e-6
    assert q == 0 or (q > 0) == (w > 0)


DRIFT_YAML = "sleeves:\n  carry:\n    targets: {mode: quantity, positions: {SPY: 300, TLT: 2778}}\n"


def test_drift_below_threshold_is_skipped_and_reported(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    assert exec_config.rebalance_drift_threshold_pct == 0.02
    t = _targets(tmp_path, instruments, DRIFT_YAML)
    # NAV 10M, 2% -> $200k. SPY 300 x $500 = $150k: skipped. TLT 2778 x $90 = $250,020: kept.
    tl = compute_trades(t, {}, PRICES, 10_000_000, instruments, exec_config, "rb")
    assert [(i.symbol, i.quantity) for i in tl.intents] == [("TLT", 2778)]
    assert tl.skipped == (
        SkippedTrade("carry", "SPY", Side.BUY, 300, 0, 300, 150_000.0, 200_000.0),
    )
    assert "below_drift_threshold" in tl.skipped[0].detail and "$150,000" in tl.skipped[0].detail


def test_pair_legs_are_judged_together(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    text = DRIFT_YAML + (
        "pairs:\n  - {group: g, legs: [{sleeve: carry, symbol: SPY}, {sleeve: carry, symbol: TLT}], hedge_symbol: ES}\n"
    )
    t = _targets(tmp_path, instruments, text)
    tl = compute_trades(t, {}, PRICES, 10_000_000, instruments, exec_config, "rb")
    # SPY alone would be skipped ($150k < $200k) but its pair leg TLT trades.
    assert [(i.symbol, i.pair_group) for i in tl.intents] == [("SPY", "g"), ("TLT", "g")]
    assert tl.skipped == ()
    (pair,) = tl.pairs
    assert pair.group_id == "g" and pair.hedge_symbol == "ES"
    assert [leg.intent_id for leg in pair.legs] == ["rb:carry:SPY", "rb:carry:TLT"]


def test_pair_all_legs_below_threshold_is_skipped_and_reported(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    text = (
        DRIFT_YAML
        + "pairs:\n  - {group: g, legs: [{sleeve: carry, symbol: SPY}, {sleeve: carry, symbol: TLT}]}\n"
    )
    t = _targets(tmp_path, instruments, text)
    tl = compute_trades(
        t, {"carry": {"TLT": 1000}}, PRICES, 10_000_000, instruments, exec_config, "rb"
    )
    # TLT diff now 1778 x $90 = $160,020 < $200k too
    assert tl.intents == () and tl.pairs == ()
    assert [s.symbol for s in tl.skipped] == ["SPY", "TLT"]
    assert tl.dissolved_pairs[0].group_id == "g" and tl.dissolved_pairs[0].trading == ()


def test_pair_with_one_leg_at_target_is_dissolved_and_reported(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    text = (
        DRIFT_YAML
        + "pairs:\n  - {group: g, legs: [{sleeve: carry, symbol: SPY}, {sleeve: carry, symbol: TLT}]}\n"
    )
    t = _targets(tmp_path, instruments, text)
    tl = compute_trades(
        t, {"carry": {"SPY": 300}}, PRICES, 10_000_000, instruments, exec_config, "rb"
    )
    assert [(i.symbol, i.pair_group) for i in tl.intents] == [("TLT", None)]
    assert tl.pairs == ()
    (d,) = tl.dissolved_pairs
    assert d.group_id == "g" and d.trading == ("rb:carry:TLT",)
    assert "unpaired" in d.reason


def test_example_file_end_to_end(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    t = load_targets(ROOT / "config" / "targets.example.yaml", instruments)
    prices = {s: instruments[s].profile.price for s in instruments}
    a = compute_trades(t, {}, prices, 10_000_000, instruments, exec_config, "main-2026-11-24-open")
    b = compute_trades(t, {}, prices, 10_000_000, instruments, exec_config, "main-2026-11-24-open")
    assert a == b  # deterministic ids and order
    ids = [i.intent_id for i in a.intents]
    assert len(ids) == len(set(ids))
    assert "main-2026-11-24-open:relval:CSPX" in ids
    # carry: TLT -300 x $90 = $27k and GLD 400 x $250 = $100k, both < $200k -> skipped
    assert {s.symbol for s in a.skipped} == {"TLT", "GLD"}
    assert [p.group_id for p in a.pairs] == ["us_eu"]


def test_missing_price_for_weight_is_an_error(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    t = _targets(
        tmp_path, instruments, "sleeves:\n  rp:\n    targets: {mode: weight, weights: {GLD: 0.5}}\n"
    )
    with pytest.raises(MarketDataRejected, match="GLD.*missing_quotes"):
        compute_trades(t, {}, {"SPY": 500.0}, 1e7, instruments, exec_config, "rb")
    with pytest.raises(MarketDataRejected, match="invalid_price"):
        compute_trades(t, {}, {"GLD": float("nan")}, 1e7, instruments, exec_config, "rb")


def test_bad_nav_with_targets_is_an_error(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    t = _targets(tmp_path, instruments, DRIFT_YAML)
    with pytest.raises(InputError, match="nav: NAV must be a positive"):
        compute_trades(t, {}, PRICES, 0.0, instruments, exec_config, "rb")


def test_unknown_symbol_in_book_is_an_error(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    t = _targets(tmp_path, instruments, DRIFT_YAML)
    with pytest.raises(UnknownInstrument):
        compute_trades(t, {"carry": {"ZZZ": 5}}, PRICES, 1e7, instruments, exec_config, "rb")
