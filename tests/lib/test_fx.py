"""Money in the base currency (issue 8): FX sources and staleness, limits,
filters and summaries in USD; FESX in EUR never added to ES in USD as if it
were dollars; a missing or stale rate blocks the orders it affects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.basket import BasketExecutor
from lib.clock import VirtualClock
from lib.config import ExecutionConfig, RiskConfig, Settings
from lib.errors import FxUnavailable
from lib.fx import FxTable, SimFxSource, StaticFxSource, fx_for_broker
from lib.instruments import InstrumentRegistry
from lib.risk import Control, PreTradeRisk, StaticKillSwitch
from lib.types import OrderIntent, Side

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _table(clock: VirtualClock, eur: float = 1.08, as_of: datetime = T0) -> FxTable:
    return FxTable(clock, [StaticFxSource({"EUR": eur}, as_of)], max_age_seconds=3600)


def test_base_currency_is_one_and_a_fresh_fallback_converts() -> None:
    clock = VirtualClock(T0)
    fx = _table(clock)
    assert fx.rate("USD") == 1.0
    assert fx.to_base(1000.0, "EUR") == pytest.approx(1080.0)


def test_a_stale_or_unknown_rate_raises_with_the_reason() -> None:
    clock = VirtualClock(T0 + timedelta(hours=2))
    with pytest.raises(FxUnavailable, match=r"EUR/USD.*stale.*max_age_seconds 3,600"):
        _table(clock).rate("EUR")
    with pytest.raises(FxUnavailable, match=r"GBP/USD.*fallback: no rate"):
        _table(VirtualClock(T0)).rate("GBP")


def test_sources_are_tried_in_order_and_the_simulator_is_always_fresh() -> None:
    clock = VirtualClock(T0 + timedelta(days=30))
    fx = FxTable(clock, [SimFxSource({"EUR": 1.10}, clock), StaticFxSource({"EUR": 1.0}, T0)],
                 max_age_seconds=60)
    assert fx.rate("EUR") == 1.10


def test_fx_for_a_broker_takes_its_own_rates_first() -> None:
    clock = VirtualClock(T0)

    class Broker:
        def get_fx_rate(self, currency: str) -> tuple[float, datetime] | None:
            return (1.2, T0) if currency == "EUR" else None

    fx = fx_for_broker(Broker(), clock, fallback_rates={"EUR": 1.0, "GBP": 1.3}, fallback_as_of=T0)
    assert fx.rate("EUR") == 1.2 and fx.rate("GBP") == 1.3


def test_settings_fx_section_is_validated() -> None:
    with pytest.raises(ValueError, match="fallback_as_of"):
        Settings.model_validate({"fx": {"fallback_rates": {"EUR": 1.08}}})
    s = Settings.model_validate(
        {"fx": {"fallback_rates": {"EUR": 1.08}, "fallback_as_of": "2026-12-01T16:00:00Z"}}
    )
    assert s.base_currency == "USD" and s.fx.fallback_rates == {"EUR": 1.08}


def _risk(instruments: InstrumentRegistry, **limits: float) -> PreTradeRisk:
    return PreTradeRisk(RiskConfig(**limits), ExecutionConfig(), instruments, StaticKillSwitch())


def test_order_limit_is_in_usd_for_an_eur_future(instruments: InstrumentRegistry) -> None:
    # 100 FESX at 4,800 x 10 = EUR 4.8M: under a USD 5M limit in euros, over it in dollars.
    fesx = OrderIntent("rb:t:FESX", "FESX", Side.BUY, 100, sleeve="t")
    report = _risk(instruments).check_intents(
        [fesx], {"FESX": 4800.0}, {"FESX": 1e9}, fx=_table(VirtualClock(T0))
    )
    assert [b.control for b in report.blocks] == [Control.MAX_ORDER_NOTIONAL]
    assert "EUR 1.08" in report.blocks[0].detail
    assert report.gross_notional_usd == pytest.approx(5_184_000)


def test_gross_adds_es_and_fesx_in_usd(instruments: InstrumentRegistry) -> None:
    es = OrderIntent("rb:t:ES", "ES", Side.BUY, 10, sleeve="t")
    fesx = OrderIntent("rb:t:FESX", "FESX", Side.SELL, 10, sleeve="t")
    report = _risk(instruments).check_intents(
        [es, fesx], {"ES": 6000.0, "FESX": 5000.0}, {}, fx=_table(VirtualClock(T0), eur=1.10)
    )
    assert report.ok
    assert report.gross_notional_usd == pytest.approx(10 * 6000 * 50 + 10 * 5000 * 10 * 1.10)


def test_a_missing_or_stale_rate_blocks_only_the_orders_it_affects(
    instruments: InstrumentRegistry,
) -> None:
    es = OrderIntent("rb:t:ES", "ES", Side.BUY, 1, sleeve="t")
    fesx = OrderIntent("rb:t:FESX", "FESX", Side.BUY, 1, sleeve="t")
    stale = _table(VirtualClock(T0 + timedelta(days=2)))
    report = _risk(instruments).check_intents([es, fesx], {"ES": 6000.0, "FESX": 5000.0}, {}, fx=stale)
    assert report.approved == (es,)
    (block,) = report.blocks
    assert block.control == Control.FX_RATE and block.symbol == "FESX" and "stale" in block.detail
    # no FX source at all: a non-base currency cannot be valued either
    none = _risk(instruments).check_intents([fesx], {"FESX": 5000.0}, {})
    assert [b.control for b in none.blocks] == [Control.FX_RATE]


def test_gross_above_a_share_of_nav_or_buying_power_blocks_everything(
    instruments: InstrumentRegistry,
) -> None:
    spy = OrderIntent("rb:t:SPY", "SPY", Side.BUY, 1000, sleeve="t")  # $590k
    tlt = OrderIntent("rb:t:TLT", "TLT", Side.BUY, 1000, sleeve="t")  # $90k
    prices = {"SPY": 590.0, "TLT": 90.0}
    checker = _risk(instruments, max_gross_nav_fraction=0.5)
    nav_blocked = checker.check_intents([spy, tlt], prices, {}, nav=1_000_000)
    assert nav_blocked.approved == ()
    assert {b.control for b in nav_blocked.blocks} == {Control.MAX_GROSS_NAV}
    assert checker.check_intents([spy, tlt], prices, {}, nav=2_000_000).ok
    bp = checker.check_intents([spy, tlt], prices, {}, nav=2_000_000, buying_power=500_000)
    assert bp.approved == () and {b.control for b in bp.blocks} == {Control.BUYING_POWER}
    assert "buying power $500,000" in bp.blocks[0].detail


def test_min_notional_filter_is_in_usd(instruments: InstrumentRegistry) -> None:
    # 1 FESX at 240 = EUR 2,400 (< 2,500) but USD 2,592 (>= 2,500): it trades.
    fesx = OrderIntent("rb:t:FESX", "FESX", Side.BUY, 1, sleeve="t")
    cfg = ExecutionConfig(min_trade_notional_usd=2500)
    result = BasketExecutor(cfg, instruments, {"EUR": 1.08}).net_trades([fesx], {"FESX": 240.0})
    assert [i.symbol for i in result.net_intents] == ["FESX"] and result.dropped == ()
    assert result.benefit.gross_notional == pytest.approx(2592.0)
    # at 1.0 it would be dropped
    low = BasketExecutor(cfg, instruments, {"EUR": 1.0}).net_trades([fesx], {"FESX": 240.0})
    assert [d.symbol for d in low.dropped] == ["FESX"]


@given(st.floats(0.5, 2.0), st.integers(1, 50), st.integers(1, 50))
def test_gross_is_the_fx_weighted_sum(rate: float, n_es: int, n_fesx: int) -> None:
    from lib.instruments import load_instruments
    from lib.varpaths import PROJECT_ROOT

    reg = load_instruments(PROJECT_ROOT / "config" / "instruments.yaml")
    es = OrderIntent("rb:t:ES", "ES", Side.BUY, n_es, sleeve="t")
    fesx = OrderIntent("rb:t:FESX", "FESX", Side.BUY, n_fesx, sleeve="t")
    report = PreTradeRisk(
        RiskConfig(max_order_notional_usd=1e12, max_gross_notional_usd=1e12), ExecutionConfig(),
        reg, StaticKillSwitch(),
    ).check_intents([es, fesx], {"ES": 6000.0, "FESX": 5000.0}, {"ES": 1e12, "FESX": 1e12},
                    fx=_table(VirtualClock(T0), eur=rate))
    assert report.gross_notional_usd == pytest.approx(n_es * 300_000 + n_fesx * 50_000 * rate)
