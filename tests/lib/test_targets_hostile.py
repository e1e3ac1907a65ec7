"""Hostile and careless targets files: every one is a typed InputError that
names the file, the place, the field and the rule (issue 7), never a PyYAML,
Recursion or Overflow error, and never an accepted absurd quantity."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.errors import InputError
from lib.instruments import InstrumentRegistry
from lib.safe_yaml import MAX_DEPTH, YamlRefused, parse_yaml
from lib.targets import load_targets
from lib.targets.models import MAX_QUANTITY

# 396 bytes: 9**6 = 531,441 leaves once expanded (the alias bomb).
ALIAS_BOMB = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 7)
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _error(tmp_path: Path, name: str, text: str, registry: InstrumentRegistry) -> InputError:
    p = _write(tmp_path, name, text)
    with pytest.raises(InputError) as info:
        load_targets(p, registry)
    assert str(info.value).startswith(f"{p}: "), str(info.value)
    return info.value


def _trade(qty: str) -> str:
    return f"sleeves:\n  t:\n    trades:\n      - {{symbol: SPY, side: BUY, quantity: {qty}}}\n"


# ------------------------------------------------------------ YAML structure


def test_control_character_is_an_input_error_naming_the_line(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    err = _error(tmp_path, "t.yaml", "rebalance: {}\nsleeves: \x07\n", instruments)
    assert (err.field, err.location) == ("<file>", "line 2")
    assert "control characters are not allowed" in err.rule and "#x0007" in err.rule


@pytest.mark.parametrize("text", ["[" * 500, "sleeves:\n" + "{a: " * 300])
def test_deep_nesting_is_refused_not_a_recursion_error(
    tmp_path: Path, instruments: InstrumentRegistry, text: str
) -> None:
    err = _error(tmp_path, "t.yaml", text, instruments)
    assert err.field == "<file>" and err.location is not None
    assert f"nested deeper than {MAX_DEPTH} levels" in err.rule or "not valid YAML" in err.rule


def test_recursive_alias_is_refused(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    err = _error(tmp_path, "t.yaml", "x: &a [*a]\n", instruments)
    assert err.location == "line 1" and "aliases (*name) are not allowed" in err.rule


@pytest.mark.parametrize(
    "tail", ["sleeves: {}\n", "sleeves:\n  t:\n    trades: *a6\n"], ids=["unused", "as-trades"]
)
def test_alias_bomb_is_refused_at_its_first_alias(
    tmp_path: Path, instruments: InstrumentRegistry, tail: str
) -> None:
    # Before: expanded to 531,441 items (10-26 s, 38-48 s as trades: *a6, as the
    # line finder re-walked every alias). Now the first alias stops the read.
    err = _error(tmp_path, "t.yaml", ALIAS_BOMB + tail, instruments)
    assert err.location == "line 2" and "aliases" in err.rule
    assert len(str(err)) < 300  # no expansion echoed back


def test_merge_keys_and_impossible_dates_are_refused() -> None:
    with pytest.raises(YamlRefused, match="merge keys"):
        parse_yaml("a: {<<: {b: 1}}\n")
    with pytest.raises(YamlRefused, match="not valid YAML"):
        parse_yaml("sleeves:\n  t: 2026-13-45\n")


def test_parse_yaml_lists_every_duplicate_with_its_line() -> None:
    parsed = parse_yaml("a: 1\nb: 2\na: 3\nc:\n  d: 1\n  d: 2\n")
    assert [(p.path, p.line) for p in parsed.problems] == [(("a",), 3), (("c", "d"), 6)]
    assert parsed.lines[("c", "d")] == 5


# ----------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("qty", "rule"),
    [
        ("1000000000000000000000000000000", "above the maximum 1,000,000,000"),
        ("1000000001", "above the maximum"),
        ("1e15", "no exponent"),
        ("1e3", "no exponent"),
        ("1.0e+15", "above the maximum"),
        ("'١٠'", "plain digits 0-9"),
        ("'１０'", "plain digits 0-9"),  # full-width digits
        (".inf", "finite"),
    ],
)
def test_trade_quantity_is_an_ascii_integer_up_to_the_maximum(
    tmp_path: Path, instruments: InstrumentRegistry, qty: str, rule: str
) -> None:
    err = _error(tmp_path, "t.yaml", _trade(qty), instruments)
    assert err.field == "quantity" and err.location == "sleeves.t.trades[0] (line 4)"
    assert rule in err.rule, err.rule
    assert "\n" not in str(err)  # one problem, reported once (no container echo)


def test_maximum_quantity_itself_is_accepted(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    assert MAX_QUANTITY == 10**9
    t = load_targets(_write(tmp_path, "t.yaml", _trade(str(MAX_QUANTITY))), instruments)
    trades = t.sleeves["t"].trades
    assert trades is not None and trades[0].quantity == MAX_QUANTITY
    text = "sleeve,symbol,target_quantity\nc,SPY,-1000000000\nc,TLT,1000000001\n"
    err = _error(tmp_path, "q.csv", text, instruments)
    assert (err.row, err.field) == (2, "target_quantity") and "above the maximum" in err.rule


def test_weights_are_ascii_numbers(tmp_path: Path, instruments: InstrumentRegistry) -> None:
    text = "sleeve,symbol,target_weight\nrp,SPY,٠.٣\n"
    err = _error(tmp_path, "w.csv", text, instruments)
    assert (err.row, err.field) == (1, "target_weight") and "plain decimal" in err.rule


# ------------------------------------------------------------- field and line


def test_csv_sleeve_too_long_is_reported_as_the_sleeve(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    err = _error(tmp_path, "t.csv", "sleeve,symbol,side,quantity\n" + "s" * 65 + ",SPY,BUY,5\n",
                 instruments)
    assert (err.row, err.field) == (1, "sleeve") and "at most 64 characters" in err.rule


@pytest.mark.parametrize(("key", "kind"), [("1", "number 1"), ("yes", "boolean true"),
                                           ("~", "null")])
def test_yaml_sleeve_key_that_is_not_text_names_sleeve_and_line(
    tmp_path: Path, instruments: InstrumentRegistry, key: str, kind: str
) -> None:
    text = f"sleeves:\n  ok:\n    trades: [{{symbol: SPY, side: BUY, quantity: 1}}]\n  {key}:\n" \
           "    trades: [{symbol: TLT, side: BUY, quantity: 1}]\n"
    err = _error(tmp_path, "t.yaml", text, instruments)
    assert (err.field, err.location) == ("sleeve", "sleeves (line 4)"), str(err)
    assert kind in err.rule and "quotes" in err.rule


def test_yaml_symbol_key_that_is_not_text_is_the_symbol(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    text = "sleeves:\n  c:\n    targets:\n      mode: quantity\n      positions:\n" \
           "        SPY: 1\n        true: 2\n"
    err = _error(tmp_path, "t.yaml", text, instruments)
    assert (err.field, err.location) == ("symbol", "sleeves.c.targets.positions (line 7)")


# ------------------------------------------------------- every problem at once


def test_csv_lists_every_problem_of_the_file(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    text = ("sleeve,symbol,side,quantity\ntrend,SPY,BUY,-5\ntrend,TLT,SEL,3\n"
            "trend,QQQ,BUY,x\ntrend,NOPE,BUY,1\n,GLD,BUY,1\ntrend,IWM,BUY\n")
    err = _error(tmp_path, "t.csv", text, instruments)
    got = [(p.row, p.field) for p in err.problems]
    assert sorted(got, key=lambda rf: (rf[0] or 0)) == [
        (1, "quantity"), (2, "side"), (3, "quantity"), (4, "symbol"), (5, "sleeve"), (6, "(row)"),
    ]
    lines = str(err).splitlines()
    assert len(lines) == 6 and all(line.startswith(f"{tmp_path / 't.csv'}: row ") for line in lines)
    assert "more problem" not in str(err)


def test_yaml_lists_duplicates_model_and_reference_problems(
    tmp_path: Path, instruments: InstrumentRegistry
) -> None:
    text = ("sleeves:\n  a:\n    trades:\n      - {symbol: SPY, side: BUY, quantity: 0}\n"
            "      - {symbol: NOPE, side: BUY, quantity: 1}\n  a:\n    trades: []\n")
    err = _error(tmp_path, "t.yaml", text, instruments)
    rules = [p.rule for p in err.problems]
    assert any("duplicate key 'a'" in r for r in rules), rules
    assert len(err.problems) >= 2 and len(str(err).splitlines()) == len(err.problems)


def test_combine_keeps_order_and_flattens() -> None:
    a = InputError("f", 1, "x", "r1")
    b = InputError.combine([InputError("f", 2, "y", "r2"), InputError("f", 3, "z", "r3")])
    both = InputError.combine([a, b])
    assert [p.row for p in both.problems] == [1, 2, 3]
    assert str(both).splitlines() == ["f: row 1: x: r1", "f: row 2: y: r2", "f: row 3: z: r3"]


# ------------------------------------------------------------ into the ledger


@pytest.mark.parametrize("qty", [MAX_QUANTITY, 10**30])
def test_quantities_never_overflow_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qty: int
) -> None:
    # Before: 10**30 was accepted and the SQLite ledger raised OverflowError.
    from datetime import UTC, datetime

    from lib.params import RebalanceParams
    from lib.pipeline import prepare_trades
    from lib.runtime import clear_runtimes, open_runtime

    targets = _write(tmp_path, "t.yaml", _trade(str(qty)))
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    clear_runtimes()
    try:
        rt = open_runtime(
            RebalanceParams(targets=str(targets), rebalance_id="big-qty",
                            sim_start=datetime(2026, 11, 24, 15, 30, tzinfo=UTC)),
            database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        )
        if qty > MAX_QUANTITY:
            with pytest.raises(InputError, match="above the maximum"):
                prepare_trades(rt)
        else:
            prepared = prepare_trades(rt)
            assert [i.quantity for i in prepared.trades.intents] == [MAX_QUANTITY]
        assert rt.broker.get_open_orders() == []
    finally:
        clear_runtimes()
