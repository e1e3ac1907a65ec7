"""Pre-trade risk: every control blocks and reports, the kill switch, the price band."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import RiskBlocked
from lib.instruments import InstrumentRegistry
from lib.policy import ExecutionPolicy
from lib.risk import (
    Control,
    FileKillSwitch,
    KillSwitch,
    PreTradeRisk,
    RiskConfig,
    RiskReport,
    StaticKillSwitch,
)
from lib.types import (
    AssetClass,
    MarketDataSnapshot,
    OrderIntent,
    OrderPlan,
    OrderType,
    PolicyMode,
    Side,
)

PRICES = {"SPY": 590.0, "ES": 6000.0, "TLT": 90.0, "CSPX": 600.0, "DIS": 150.0}
ADV = {"SPY": 70_000_000.0, "ES": 1_500_000.0, "TLT": 35_000_000.0}


@pytest.fixture
def exec_config(exec_config: ExecutionConfig) -> ExecutionConfig:
    """These tests pin the fixed band (the seed's: no parent risk budget, FUT cap
    3 bps); the budgeted band: test_policy_budget.py and tests/lib/orders/test_child_rules.py."""
    caps = dict(exec_config.max_slippage_bps_by_asset_class)
    caps[AssetClass.FUT] = 3.0
    return exec_config.model_copy(update={"collar_budget_k": 0.0, "max_slippage_bps_by_asset_class": caps})


def intent(
    symbol: str = "SPY",
    qty: int = 100,
    side: Side = Side.BUY,
    sleeve: str | None = "trend",
    intent_id: str | None = None,
) -> OrderIntent:
    return OrderIntent(intent_id or f"rb:{sleeve}:{symbol}", symbol, side, qty, sleeve=sleeve)


def risk(
    instruments: InstrumentRegistry,
    exec_config: ExecutionConfig,
    kill: KillSwitch | None = None,
    **limits: float,
) -> PreTradeRisk:
    return PreTradeRisk(RiskConfig(**limits), exec_config, instruments, kill or StaticKillSwitch())


def only_controls(report: RiskReport) -> list[tuple[str, str]]:
    return [(b.intent_id, b.control) for b in report.blocks]


def test_risk_config_defaults_and_strictness() -> None:
    cfg = RiskConfig()
    assert (cfg.max_order_notional_usd, cfg.max_gross_notional_usd, cfg.max_adv_fraction) == (
        5_000_000,
        25_000_000,
        0.05,
    )
    with pytest.raises(ValidationError, match="extra"):
        RiskConfig(max_order_usd=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="must not exceed max_gross"):
        RiskConfig(max_order_notional_usd=30_000_000)
    with pytest.raises(ValidationError):
        RiskConfig(max_adv_fraction=0)
    with pytest.raises(ValidationError):
        cfg.max_adv_fraction = 0.5  # frozen


def test_clean_rebalance_is_approved(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    intents = [intent("SPY", 1000), intent("ES", 2), intent("TLT", 500, Side.SELL)]
    report = risk(instruments, exec_config).check_intents(intents, PRICES, ADV)
    assert report.ok and report.approved == tuple(intents) and report.blocked == ()
    # 1000 x 590 + 2 x 6000 x 50 + 500 x 90
    assert report.gross_notional_usd == pytest.approx(590_000 + 600_000 + 45_000)


def test_max_order_notional(instruments: InstrumentRegistry, exec_config: ExecutionConfig) -> None:
    big = intent("SPY", 10_000)  # 10,000 x 590 = $5.9M > $5M
    ok = intent("TLT", 50_000)  # 50,000 x 90 = $4.5M
    fut = intent("ES", 17, sleeve="carry")  # 17 x 6000 x 50 = $5.1M
    report = risk(instruments, exec_config).check_intents([big, ok, fut], PRICES, ADV)
    assert report.approved == (ok,)
    assert only_controls(report) == [
        (big.intent_id, "max_order_notional"),
        (fut.intent_id, "max_order_notional"),
    ]
    assert "$5,900,000" in report.blocks[0].detail and "$5,000,000" in report.blocks[0].detail
    assert report.blocks[1].symbol == "ES" and "$5,100,000" in report.blocks[1].detail


def test_max_adv_fraction(instruments: InstrumentRegistry, exec_config: ExecutionConfig) -> None:
    over = intent("SPY", 6_000)  # 6% of 100k
    under = intent("TLT", 4_000)  # 4% of 100k
    profile = intent("CSPX", 8_000)  # no ADV given: profile ADV 150k -> 5.33%
    adv = {"SPY": 100_000.0, "TLT": 100_000.0}
    report = risk(instruments, exec_config).check_intents([over, under, profile], PRICES, adv)
    assert report.approved == (under,)
    assert only_controls(report) == [
        (over.intent_id, "max_adv_fraction"),
        (profile.intent_id, "max_adv_fraction"),
    ]
    assert "6.00% of ADV 100,000" in report.blocks[0].detail
    assert "5.33% of ADV 150,000" in report.blocks[1].detail


def test_gross_notional_blocks_the_whole_rebalance(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    # 6 x 50,000 TLT x $90 = 6 x $4.5M = $27M > $25M
    intents = [intent("TLT", 50_000, sleeve=f"s{k}") for k in range(6)]
    report = risk(instruments, exec_config).check_intents(intents, PRICES, ADV)
    assert report.approved == () and report.blocked == tuple(intents)
    assert {b.control for b in report.blocks} == {"max_gross_notional"}
    assert len(report.blocks) == 6
    assert "$27,000,000" in report.blocks[0].detail
    # five of them ($22.5M) pass
    five = risk(instruments, exec_config).check_intents(intents[:5], PRICES, ADV)
    assert five.ok and len(five.approved) == 5


def test_duplicate_intent_id(instruments: InstrumentRegistry, exec_config: ExecutionConfig) -> None:
    a = intent("SPY", 100, intent_id="rb:x")
    b = intent("TLT", 200, sleeve="other", intent_id="rb:x")
    c = intent("ES", 1)
    report = risk(instruments, exec_config).check_intents([a, b, c], PRICES, ADV)
    assert report.approved == (c,) and report.blocked == (a, b)  # all copies blocked
    assert only_controls(report) == [("rb:x", "duplicate_intent"), ("rb:x", "duplicate_intent")]
    assert "appears 2 times" in report.blocks[0].detail


def test_duplicate_sleeve_symbol_side(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    a = intent("SPY", 100, intent_id="rb:1")
    b = intent("SPY", 300, intent_id="rb:2")
    sell = intent("SPY", 50, Side.SELL, intent_id="rb:3")  # opposite side: not a duplicate
    other_sleeve = intent("SPY", 50, sleeve="carry", intent_id="rb:4")
    report = risk(instruments, exec_config).check_intents([a, b, sell, other_sleeve], PRICES, ADV)
    assert report.approved == (sell, other_sleeve)
    assert only_controls(report) == [("rb:1", "duplicate_intent"), ("rb:2", "duplicate_intent")]
    assert "sleeve trend BUY SPY appears 2 times" in report.blocks[0].detail


def test_unknown_instrument_and_missing_price(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    unknown = intent("NOPE", 1)
    no_price = intent("GLD", 10)
    nan_price = intent("DIS", 10)
    prices = dict(PRICES, DIS=float("nan"))
    report = risk(instruments, exec_config).check_intents(
        [unknown, no_price, nan_price], prices, ADV
    )
    assert report.approved == ()
    assert only_controls(report) == [
        (unknown.intent_id, "unknown_instrument"),
        (no_price.intent_id, "reference_price"),
        (nan_price.intent_id, "reference_price"),
    ]
    assert "got None" in report.blocks[1].detail and "nan" in report.blocks[2].detail


def test_several_controls_on_one_intent_are_all_reported(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    huge = intent("SPY", 200_000)  # $118M: order, ADV (of 1M) and gross all fail
    report = risk(instruments, exec_config).check_intents([huge], PRICES, {"SPY": 1_000_000.0})
    assert [b.control for b in report.blocks_for(huge.intent_id)] == [
        "max_order_notional",
        "max_adv_fraction",
        "max_gross_notional",
    ]
    assert report.blocked == (huge,)
    with pytest.raises(RiskBlocked, match=r"max_order_notional.*\+2 more block"):
        report.raise_if_blocked()


# ----------------------------------------------------------------- kill switch


def test_file_kill_switch(tmp_path: Path) -> None:
    path = tmp_path / "KILL"
    switch = FileKillSwitch(path)
    assert isinstance(switch, KillSwitch)
    assert switch.is_engaged() == (False, "")
    path.write_text("ops: broker incident 14:02\n")
    assert switch.is_engaged() == (True, "ops: broker incident 14:02")
    path.write_text("")
    assert switch.is_engaged() == (True, f"kill switch file {path} exists")
    path.unlink()
    assert switch.is_engaged() == (False, "")


def test_kill_switch_blocks_every_intent(
    tmp_path: Path, instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    path = tmp_path / "KILL"
    checker = risk(instruments, exec_config, FileKillSwitch(path))
    intents = [intent("SPY", 10), intent("ES", 1)]
    assert checker.check_intents(intents, PRICES, ADV).ok
    path.write_text("halt: fat finger in carry")
    report = checker.check_intents(intents, PRICES, ADV)
    assert report.approved == () and report.blocked == tuple(intents)
    assert [b.control for b in report.blocks] == ["kill_switch", "kill_switch"]
    assert all("halt: fat finger in carry" in b.detail for b in report.blocks)


# ------------------------------------------------------------------ price band


def plan(
    symbol: str = "ES",
    mid: float = 6000.0,
    limit: float | None = 6001.0,
    collar: tuple[float, float] = (5998.25, 6001.75),
    ladder: tuple[float, ...] = (6001.25, 6001.5),
    mode: PolicyMode = PolicyMode.MARKETABLE_LIMIT,
    order_type: OrderType = OrderType.LMT,
) -> OrderPlan:
    return OrderPlan(
        intent=intent(symbol, 1),
        mode=mode,
        order_type=order_type,
        limit_price=limit,
        collar_low=collar[0],
        collar_high=collar[1],
        arrival_mid=mid,
        ttl_seconds=120,
        replace_interval_seconds=15,
        max_replace_attempts=6,
        reprice_ladder=ladder,
        max_slippage_bps=3,
    )


def test_price_band_is_the_policy_collar(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    checker = risk(instruments, exec_config)
    low, high = checker.price_band(instruments["ES"], 6000.0)  # FUT cap 3 bps
    assert (low, high) == pytest.approx((5998.2, 6001.8))
    low, high = checker.price_band(instruments["SPY"], 590.0)  # ETF cap 10 bps
    assert (low, high) == pytest.approx((589.41, 590.59))


def test_limit_inside_band_is_approved(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    p = plan(limit=6001.75)
    report = risk(instruments, exec_config).check_plan(p)
    assert report.ok and report.approved == (p.intent,)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"limit": 6002.0}, "limit_price 6002.0"),  # 3.33 bps over mid
        ({"limit": 5998.0, "collar": (5998.0, 6001.75)}, "collar_low 5998.0"),
        ({"collar": (5998.25, 6002.0)}, "collar_high 6002.0"),
        ({"ladder": (6001.5, 6002.25)}, "reprice_ladder[1] 6002.25"),
    ],
)
def test_price_outside_band_is_blocked(
    instruments: InstrumentRegistry,
    exec_config: ExecutionConfig,
    kwargs: dict[str, object],
    named: str,
) -> None:
    p = plan(**kwargs)  # type: ignore[arg-type]
    report = risk(instruments, exec_config).check_plan(p)
    assert report.approved == () and report.blocked == (p.intent,)
    (block,) = report.blocks
    assert block.control == "price_band" and block.symbol == "ES"
    assert named in block.detail and "+/- 3 bps" in block.detail


def test_market_plan_checks_collar_only(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    allowed = exec_config.model_copy(update={"allow_market_orders": True})
    checker = risk(instruments, allowed)
    ok = plan(limit=None, ladder=(), mode=PolicyMode.MARKET, order_type=OrderType.MKT)
    assert checker.check_plan(ok).ok
    wide = plan(
        limit=None,
        ladder=(),
        collar=(5990.0, 6010.0),
        mode=PolicyMode.MARKET,
        order_type=OrderType.MKT,
    )
    assert [b.control for b in checker.check_plan(wide).blocks] == ["price_band"]
    # with market orders disabled (the default) the plan is blocked for that too
    assert [b.control for b in risk(instruments, exec_config).check_plan(ok).blocks] == [
        "market_order"
    ]


def test_limit_plan_without_limit_is_blocked(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    report = risk(instruments, exec_config).check_plan(plan(limit=None))
    assert [b.control for b in report.blocks] == ["price_band"]
    assert "LMT order without a limit price" in report.blocks[0].detail


def test_kill_switch_blocks_plans(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    checker = risk(instruments, exec_config, StaticKillSwitch(True, "manual stop"))
    report = checker.check_plan(plan())
    assert [(b.control, b.detail) for b in report.blocks] == [
        (Control.KILL_SWITCH, "kill switch engaged: manual stop")
    ]


def test_bad_arrival_mid_is_blocked(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    report = risk(instruments, exec_config).check_plan(plan(mid=0.0))
    assert [b.control for b in report.blocks] == ["price_band"]
    assert "arrival mid 0.0" in report.blocks[0].detail


def test_real_policy_plans_pass_the_band(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig, clock: VirtualClock
) -> None:
    """The band is the policy's own collar: its plans (limit one tick through
    the touch, collar, ladder) must never trip it."""
    policy = ExecutionPolicy(exec_config, instruments, clock, aggression_ticks=1)
    checker = risk(instruments, exec_config)
    for symbol in instruments:
        inst = instruments[symbol]
        half = inst.profile.price * inst.profile.spread_bps / 2e4
        snap = MarketDataSnapshot(
            symbol,
            inst.floor_to_tick(inst.profile.price - half),
            inst.ceil_to_tick(inst.profile.price + half),
            ts=clock.now(),
        )
        for side in Side:
            p = policy.create_plan(OrderIntent(f"rb:{symbol}:{side}", symbol, side, 10), snap)
            assert checker.check_plan(p).ok, (symbol, side, p)
