"""Generated input (issue 7): targets files (YAML and CSV text), settings
files and flow parameters, >= 1,000 cases per surface.

Each case ends in a typed error (InputError / ConfigError / pydantic's
ValidationError for parameters, whose message the CLI turns into one line) or
a valid model whose numbers obey the rules; never a PyYAML, Recursion,
Overflow, Unicode or other stray exception. Invalid targets send nothing: the
loader raises before the pipeline reads a quote or opens an order.
"""

from __future__ import annotations

import math
import re
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flows.cli_errors import param_problems
from lib.config import MAX_BPS, MAX_NOTIONAL_USD, MAX_SECONDS, PORTFOLIO_PATTERN, load_settings
from lib.errors import ConfigError, InputError
from lib.instruments import load_instruments
from lib.params import REBALANCE_ID_PATTERN, RebalanceParams
from lib.targets import TargetsFile, load_targets
from lib.targets.models import MAX_QUANTITY

pytestmark = pytest.mark.fuzz

REGISTRY = load_instruments()
SYMBOLS = sorted(REGISTRY)
ROOT = Path(__file__).resolve().parents[2]
SETTINGS_TEXT = (ROOT / "config" / "settings.yaml").read_text(encoding="utf-8")

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

# Tokens a careless or hostile file contains: YAML specials, numbers in every
# spelling, Unicode digits, control characters, aliases, deep brackets.
NASTY_SCALARS = [
    "1", "-5", "0", "2.0", "2.5", "1e15", "1e3", "1000000000", "1000000001",
    "1000000000000000000000000000000", ".inf", "-.inf", ".nan", "'١٠'", "'１０'", "０",
    "yes", "no", "on", "~", "null", "true", "''", "' '", "0x10", "0o7", "1_000",
    "2026-13-45", "2026-11-24", "!!binary aGk=", "!!python/object:os.system", "*a", "&a 1",
    "[1, 2]", "{a: 1}", "'\x07'", "\x07", "\u202e", "SPY", "BUY", "SELL", "sell", "x" * 70,
    "[[[[[[[[", "{{{{", "'", '"', "#", ":", "- -", "<<: {a: 1}",
]
KEYS = ["sleeves", "rebalance", "pairs", "trades", "targets", "mode", "positions", "weights",
        "symbol", "side", "quantity", "group", "legs", "sleeve", "hedge_symbol", "hedge_ratio",
        "portfolio", "source", "1", "yes", "~", "quantity", "SPY", "TLT"]


def _scalar() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY_SCALARS),
        st.sampled_from(SYMBOLS),
        st.integers(-(10**12), 10**12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
        .map(lambda t: "'" + t.replace("'", "''") + "'"),
    )


@st.composite
def yaml_documents(draw: st.DrawFn) -> str:
    """Mostly well-formed targets documents with hostile leaves, sometimes
    raw garbage, sometimes structural damage (indentation, duplicates)."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.text(max_size=200))
    sleeves = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.one_of(st.sampled_from(["trend", "carry", "rp", "1", "yes", "~", "x" * 65]),
                              st.text(string.ascii_letters, min_size=1, max_size=8)))
        if draw(st.booleans()):
            rows = []
            for _ in range(draw(st.integers(0, 3))):
                sym = draw(st.one_of(st.sampled_from(SYMBOLS), _scalar()))
                side = draw(st.one_of(st.sampled_from(["BUY", "SELL", "buy"]), _scalar()))
                qty = draw(st.one_of(st.integers(-3, 2 * MAX_QUANTITY).map(str), _scalar()))
                rows.append(f"      - {{symbol: {sym}, side: {side}, quantity: {qty}}}")
            body = "    trades:\n" + ("\n".join(rows) if rows else "      []")
        else:
            mode = draw(st.sampled_from(["quantity", "weight", "bogus"]))
            key = draw(st.sampled_from(["positions", "weights"]))
            items = [
                f"        {draw(st.one_of(st.sampled_from(SYMBOLS), _scalar()))}: "
                f"{draw(st.one_of(st.floats(-1, 1).map(repr), _scalar()))}"
                for _ in range(draw(st.integers(0, 4)))
            ]
            body = f"    targets:\n      mode: {mode}\n      {key}:\n" + (
                "\n".join(items) if items else "        {}")
        sleeves.append(f"  {name}:\n{body}")
    text = "sleeves:\n" + ("\n".join(sleeves) if sleeves else "  {}") + "\n"
    if draw(st.booleans()):
        text += f"{draw(st.sampled_from(KEYS))}: {draw(_scalar())}\n"
    if kind == 1:  # damage: drop or duplicate a random line, or splice a token
        lines = text.splitlines()
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "splice", "indent"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "splice":
            lines[i] = lines[i] + draw(st.sampled_from(NASTY_SCALARS))
        else:
            lines[i] = " " + lines[i]
        text = "\n".join(lines) + "\n"
    if kind == 2:
        text = "[" * draw(st.integers(20, 600)) + text
    if kind == 3:
        text = "a0: &a0 [x,x,x]\n" + "".join(
            f"a{i}: &a{i} [*a{i - 1},*a{i - 1},*a{i - 1}]\n" for i in range(1, 8)) + text
    return text


@st.composite
def csv_documents(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from([
        "sleeve,symbol,side,quantity", "symbol,quantity,sleeve,side",
        "sleeve,symbol,target_quantity", "sleeve,symbol,target_weight",
        "sleeve,symbol", "sleeve,symbol,side,quantity,extra", "",
    ]))
    cols = len(header.split(",")) if header else 3
    cell = st.one_of(st.sampled_from(SYMBOLS), st.sampled_from(["trend", "carry", "BUY", "SELL"]),
                     st.sampled_from(NASTY_SCALARS), st.integers(-5, 2 * MAX_QUANTITY).map(str),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.text(max_size=10))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        n = draw(st.sampled_from([cols, cols, cols, cols - 1, cols + 1]))
        cells = [draw(cell) for _ in range(max(n, 0))]
        rows.append(",".join(c.replace("\n", " ") if draw(st.booleans()) else
                             '"' + c.replace('"', '""') + '"' for c in cells))
    return header + "\n" + "\n".join(rows) + ("\n" if draw(st.booleans()) else "")


def _check_targets(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        model = load_targets(path, REGISTRY)
    except InputError as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.startswith(f"{path}: ") for line in lines), str(exc)[:500]
        assert len(exc.problems) == len(lines)
        assert len(str(exc)) < 200 * len(lines) + 2000  # never a dump of an expansion
        return
    assert isinstance(model, TargetsFile)
    for _, request in model.iter_requests():
        for trade in request.trades or ():
            assert 0 < trade.quantity <= MAX_QUANTITY and trade.symbol in REGISTRY
        if request.targets is not None:
            for q in (request.targets.positions or {}).values():
                assert isinstance(q, int) and abs(q) <= MAX_QUANTITY
            weights = request.targets.weights or {}
            assert all(math.isfinite(w) for w in weights.values())
            assert sum(abs(w) for w in weights.values()) <= 1 + 1e-9


@FUZZ
@given(text=yaml_documents())
def test_fuzz_targets_yaml(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _check_targets(tmp_path_factory.mktemp("y") / "t.yaml", text)


@FUZZ
@given(text=csv_documents())
def test_fuzz_targets_csv(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _check_targets(tmp_path_factory.mktemp("c") / "t.csv", text)


# ------------------------------------------------------------------ settings

SETTINGS_LINES = SETTINGS_TEXT.splitlines()
NUMERIC_LINES = [i for i, line in enumerate(SETTINGS_LINES)
                 if re.match(r"\s+\w+: [0-9.]+", line) or re.match(r"\s+(ETF|STK|FUT|FX_FUT): ", line)]


@st.composite
def settings_documents(draw: st.DrawFn) -> str:
    lines = list(SETTINGS_LINES)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["value", "value", "value", "dup", "drop", "key", "top"]))
        i = draw(st.sampled_from(NUMERIC_LINES)) if op == "value" else draw(
            st.integers(0, len(lines) - 1))
        if i >= len(lines):
            continue
        if op == "value":
            key = lines[i].split(":", 1)[0]
            value = draw(st.one_of(
                st.sampled_from(NASTY_SCALARS),
                st.floats(allow_nan=True, allow_infinity=True).map(repr),
                st.integers(-(10**20), 10**20).map(str),
            ))
            lines[i] = f"{key}: {value}"
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "drop":
            del lines[i]
        elif op == "key":
            lines[i] = re.sub(r"^(\s*)\w+", lambda m: m.group(1) + draw(st.sampled_from(KEYS)),
                              lines[i])
        else:
            field = draw(st.sampled_from(["portfolio", "instruments_file", "execution", "risk",
                                          "kill_switch_file"]))
            lines.append(f"{field}: {draw(_scalar())}")
    return "\n".join(lines) + "\n"


def _numbers(model: Any) -> list[float]:
    out: list[float] = []
    for value in dict(model).values():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out.append(float(value))
        elif isinstance(value, dict):
            out.extend(float(v) for v in value.values())
    return out


@FUZZ
@given(text=settings_documents())
def test_fuzz_settings(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("s") / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        s = load_settings(path)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}: ")
        return
    assert re.fullmatch(PORTFOLIO_PATTERN, s.portfolio)
    assert s.instruments_file.endswith((".yaml", ".yml"))
    assert s.risk.kill_switch_file is None or s.risk.kill_switch_file.strip()
    for number in _numbers(s.execution) + _numbers(s.risk):
        assert math.isfinite(number) and 0 <= number <= MAX_NOTIONAL_USD
    e = s.execution
    for seconds in (e.order_ttl_seconds, e.replace_interval_seconds, e.slice_interval_seconds,
                    e.pair_max_legging_seconds, e.max_data_age_seconds):
        assert 0 < seconds <= MAX_SECONDS
    assert all(0 < cap <= MAX_BPS for cap in e.max_slippage_bps_by_asset_class.values())


# ---------------------------------------------------------------- parameters

PARAM_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(["sim", "ibkr", "auction_close", "manual",
                                           "main-2026-11-24-us-close", "../../x", "a" * 33]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
)


@FUZZ
@given(kwargs=st.fixed_dictionaries(
    {"targets": st.one_of(st.just("config/targets.example.yaml"), PARAM_VALUES)},
    optional={name: PARAM_VALUES for name in [
        "rebalance_id", "schedule_slug", "broker", "dry_run", "settings", "mode", "sim_state",
        "sim_persist", "sim_seed", "sim_start", "bogus_field"]},
))
def test_fuzz_flow_parameters(kwargs: dict[str, Any]) -> None:
    try:
        params = RebalanceParams(**kwargs)
    except ValidationError as exc:
        lines = param_problems(exc)
        assert len(lines) == exc.error_count() and all("\n" not in line for line in lines)
        assert all(line.startswith("bad parameter ") and len(line) < 400 for line in lines)
        return
    assert params.targets
    if params.rebalance_id is not None:
        assert re.fullmatch(REBALANCE_ID_PATTERN, params.rebalance_id)
    assert re.fullmatch(r"[a-z0-9-]{1,16}", params.schedule_slug)
    assert params.broker in ("sim", "ibkr") and params.sim_seed >= 0
    assert "bogus_field" not in kwargs  # extra="forbid"


# ------------------------------------------- invalid targets: nothing is sent


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=yaml_documents())
def test_invalid_targets_reach_no_broker(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    from datetime import UTC, datetime

    from lib.pipeline import prepare_trades
    from lib.runtime import clear_runtimes, open_runtime

    work = tmp_path_factory.mktemp("r")
    targets = work / "t.yaml"
    targets.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_targets(targets, REGISTRY)
        return  # a valid file: not this test's concern
    except InputError:
        pass
    monkeypatch.setenv("EXEC_VAR_DIR", str(work / "var"))
    clear_runtimes()
    try:
        rt = open_runtime(
            RebalanceParams(targets=str(targets), rebalance_id="fuzz-bad",
                            sim_start=datetime(2026, 11, 24, 15, 30, tzinfo=UTC)),
            database_url=f"sqlite:///{work / 'l.sqlite'}",
        )
        with pytest.raises(InputError):
            prepare_trades(rt)
        assert rt.broker.get_open_orders() == [] and rt.broker.get_executions() == []
    finally:
        clear_runtimes()
