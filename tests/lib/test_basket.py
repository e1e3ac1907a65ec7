"""Cross-sleeve netting, priority, min notional, benefit and sleeve allocation.

Prices are the registry's profile prices (SPY 590, ES 6000 x 50, ...), and
min_trade_notional_usd is the seed's 2,500 unless a test says otherwise.
"""

from __future__ import annotations

import pytest

from lib.basket import (
    BasketExecutor,
    NetStatus,
    NettingResult,
    SleeveAllocation,
    largest_remainder,
    netting_savings_qty,
    priority_key,
)
from lib.config import ExecutionConfig
from lib.errors import InputError, UnknownInstrument
from lib.instruments import InstrumentRegistry
from lib.types import AssetClass, OrderIntent, PolicyMode, Side

B, S = Side.BUY, Side.SELL


def intent(sleeve: str, symbol: str, side: Side, qty: int, **kw: object) -> OrderIntent:
    return OrderIntent(f"{sleeve}-{symbol}-{side}-{qty}", symbol, side, qty, sleeve=sleeve, **kw)  # type: ignore[arg-type]


@pytest.fixture
def prices(instruments: InstrumentRegistry) -> dict[str, float]:
    return {sym: inst.profile.price for sym, inst in instruments.items()}


@pytest.fixture
def basket(instruments: InstrumentRegistry) -> BasketExecutor:
    return BasketExecutor(ExecutionConfig(min_trade_notional_usd=2500), instruments)


def by_sleeve(allocs: list[SleeveAllocation], symbol: str) -> dict[str, SleeveAllocation]:
    return {a.sleeve: a for a in allocs if a.symbol == symbol}


class TestBasketNetting:
    def test_opposite_trades_net_out(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = basket.net_trades(
            [intent("trend", "SPY", B, 100), intent("carry", "SPY", S, 100)], prices, "rb1"
        )
        assert res.net_intents == ()
        assert res.dropped == ()
        spy = res.breakdown["SPY"]
        assert spy.status is NetStatus.FLAT
        assert spy.net_signed_quantity == 0
        assert spy.crossed_quantity == 100
        assert [(r.sleeve, r.signed_quantity) for r in spy.requests] == [
            ("carry", -100),
            ("trend", 100),
        ]
        assert res.benefit.per_symbol["SPY"].qty_saved == 200
        assert res.benefit.per_symbol["SPY"].notional_saved == pytest.approx(118_000.0)

    def test_partial_netting(self, basket: BasketExecutor, prices: dict[str, float]) -> None:
        res = basket.net_trades(
            [intent("trend", "SPY", B, 300), intent("carry", "SPY", S, 100)], prices, "rb1"
        )
        assert len(res.net_intents) == 1
        net = res.net_intents[0]
        assert (net.symbol, net.side, net.quantity) == ("SPY", B, 200)
        assert net.sleeve is None
        assert net.intent_id == "rb1:SPY"
        assert net.asset_class is AssetClass.ETF
        assert res.breakdown["SPY"].net_intent_id == "rb1:SPY"
        assert res.breakdown["SPY"].net_notional == pytest.approx(118_000.0)

    def test_netting_benefit_calculation(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = basket.net_trades(
            [
                intent("trend", "SPY", B, 300),
                intent("carry", "SPY", S, 100),
                intent("trend", "ES", B, 3),
                intent("carry", "ES", S, 2),
            ],
            prices,
        )
        spy, es = res.benefit.per_symbol["SPY"], res.benefit.per_symbol["ES"]
        # SPY: gross 400, net 200 at $590.
        assert (spy.gross_qty, spy.net_qty, spy.qty_saved) == (400, 200, 200)
        assert spy.gross_notional == pytest.approx(236_000.0)
        assert spy.net_notional == pytest.approx(118_000.0)
        assert spy.saving_ratio == pytest.approx(0.5)
        # ES: gross 5, net 1 contract at 6000 x 50 = 300,000 per contract.
        assert (es.gross_qty, es.net_qty, es.qty_saved) == (5, 1, 4)
        assert es.gross_notional == pytest.approx(1_500_000.0)
        assert es.notional_saved == pytest.approx(1_200_000.0)
        assert es.saving_ratio == pytest.approx(0.8)
        total = res.benefit
        assert (total.gross_qty, total.net_qty, total.qty_saved) == (405, 201, 204)
        assert total.gross_notional == pytest.approx(1_736_000.0)
        assert total.net_notional == pytest.approx(418_000.0)
        assert total.notional_saved == pytest.approx(1_318_000.0)
        assert total.saving_ratio == pytest.approx(1_318_000 / 1_736_000)
        assert netting_savings_qty(res) == 204

    def test_priority_ordering(self, basket: BasketExecutor, prices: dict[str, float]) -> None:
        symbols = ["DIS", "CSPX", "EFA", "GLD", "TLT", "IWM", "QQQ", "SPY", "6E", "MES", "ES"]
        res = basket.net_trades([intent("s", sym, B, 1000) for sym in symbols], prices)
        # FUT (ES, MES tie on class -> by symbol), FX_FUT, ETFs by ADV notional
        # (SPY 41.3B, QQQ 20.4B, IWM 6.6B, TLT 3.15B, GLD 2.0B, EFA 1.2B, CSPX 0.09B), STK.
        assert [i.symbol for i in res.net_intents] == [
            "ES", "MES", "6E", "SPY", "QQQ", "IWM", "TLT", "GLD", "EFA", "CSPX", "DIS",
        ]  # fmt: skip

    def test_min_notional_filter(self, basket: BasketExecutor, prices: dict[str, float]) -> None:
        res = basket.net_trades(
            [
                intent("trend", "SPY", B, 10),  # SPY nets to +4 -> $2,360 < $2,500: dropped
                intent("carry", "SPY", S, 6),
                intent("trend", "QQQ", B, 40),  # QQQ nets to +5 -> $2,550: kept
                intent("carry", "QQQ", S, 35),
            ],
            prices,
            "rb1",
        )
        assert [(i.symbol, i.quantity) for i in res.net_intents] == [("QQQ", 5)]
        assert len(res.dropped) == 1
        d = res.dropped[0]
        assert (d.symbol, d.side, d.quantity, d.signed_quantity) == ("SPY", B, 4, 4)
        assert d.notional == pytest.approx(2_360.0)
        assert d.reason == "below_min_notional"
        # Never lost: the sleeves' requests are reported as unexecuted.
        assert {(r.sleeve, r.signed_quantity) for r in res.unexecuted} == {
            ("trend", 10),
            ("carry", -6),
        }
        assert res.breakdown["SPY"].status is NetStatus.DROPPED
        assert res.breakdown["SPY"].net_intent_id is None

    def test_min_notional_boundary_is_kept(
        self, instruments: InstrumentRegistry, prices: dict[str, float]
    ) -> None:
        basket = BasketExecutor(ExecutionConfig(min_trade_notional_usd=2500), instruments)
        res = basket.net_trades([intent("s", "DIS", S, 25)], {**prices, "DIS": 100.0})
        assert [(i.symbol, i.side, i.quantity) for i in res.net_intents] == [("DIS", S, 25)]

    def test_futures_notional_uses_multiplier(
        self, instruments: InstrumentRegistry, prices: dict[str, float]
    ) -> None:
        # 1 MES = 6000 x 5 = $30,000: dropped at a $50k minimum, 1 ES ($300k) kept.
        basket = BasketExecutor(ExecutionConfig(min_trade_notional_usd=50_000), instruments)
        res = basket.net_trades([intent("s", "MES", B, 1), intent("s", "ES", B, 1)], prices)
        assert [i.symbol for i in res.net_intents] == ["ES"]
        assert res.dropped[0].notional == pytest.approx(30_000.0)

    def test_same_sleeve_intents_are_summed(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = basket.net_trades(
            [intent("trend", "SPY", B, 100), intent("trend", "SPY", S, 30)], prices
        )
        (req,) = res.breakdown["SPY"].requests
        assert (req.sleeve, req.signed_quantity, len(req.intent_ids)) == ("trend", 70, 2)
        assert res.benefit.per_symbol["SPY"].gross_qty == 70
        assert res.net_intents[0].quantity == 70
        assert res.net_intents[0].intent_id == "net:SPY"

    def test_pair_group_and_mode_carried_only_when_agreed(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = basket.net_trades(
            [
                intent("a", "SPY", B, 300, pair_group="g1", mode=PolicyMode.AUCTION_CLOSE),
                intent("b", "SPY", S, 100, pair_group="g1", mode=PolicyMode.AUCTION_CLOSE),
                intent("a", "QQQ", B, 300, pair_group="g1"),
                intent("b", "QQQ", B, 100, pair_group="g2", urgency="high"),
            ],
            prices,
        )
        net = {i.symbol: i for i in res.net_intents}
        assert (net["SPY"].pair_group, net["SPY"].mode) == ("g1", PolicyMode.AUCTION_CLOSE)
        assert (net["QQQ"].pair_group, net["QQQ"].mode, net["QQQ"].urgency) == (
            None,
            None,
            "normal",
        )

    def test_bad_inputs_raise(self, basket: BasketExecutor, prices: dict[str, float]) -> None:
        with pytest.raises(InputError, match="sleeve"):
            basket.net_trades([OrderIntent("x", "SPY", B, 10)], prices)
        with pytest.raises(UnknownInstrument):
            basket.net_trades([intent("a", "NOPE", B, 10)], prices)
        with pytest.raises(InputError, match="price"):
            basket.net_trades([intent("a", "SPY", B, 10)], {"SPY": float("nan")})
        with pytest.raises(InputError, match="asset_class"):
            basket.net_trades([intent("a", "SPY", B, 10, asset_class=AssetClass.FUT)], prices)

    def test_priority_key_etf_by_adv_notional(self, instruments: InstrumentRegistry) -> None:
        assert priority_key(instruments["SPY"]) == (2, -70_000_000 * 590.0, "SPY")
        assert priority_key(instruments["DIS"]) == (3, 0.0, "DIS")


class TestLargestRemainder:
    def test_exact_split_and_tie_break(self) -> None:
        assert largest_remainder(101, [300, 100]) == [76, 25]  # 75.75 / 25.25
        assert largest_remainder(1, [1, 1]) == [1, 0]  # tie -> earliest
        assert largest_remainder(10, [3, 3, 3]) == [4, 3, 3]
        assert largest_remainder(0, [0, 0]) == [0, 0]

    def test_rejects_impossible(self) -> None:
        with pytest.raises(ValueError):
            largest_remainder(5, [0, 0])


class TestAllocation:
    def _net(self, basket: BasketExecutor, prices: dict[str, float]) -> NettingResult:
        # A buys 300, B buys 100, C sells 200: net +200, 200 crossed internally.
        return basket.net_trades(
            [intent("A", "SPY", B, 300), intent("B", "SPY", B, 100), intent("C", "SPY", S, 200)],
            prices,
            "rb1",
        )

    def test_partial_fill_pro_rata(self, basket: BasketExecutor, prices: dict[str, float]) -> None:
        res = self._net(basket, prices)
        allocs = by_sleeve(basket.allocate(res, {"SPY": (100, 591.0)}, {"SPY": 590.5}), "SPY")
        a, b, c = allocs["A"], allocs["B"], allocs["C"]
        # Cross 200 split 150/50 on the buy side; the 100 filled split 75/25.
        assert (a.crossed_qty, a.executed_qty, a.allocated_qty, a.unfilled_qty) == (
            150,
            75,
            225,
            75,
        )
        assert (b.crossed_qty, b.executed_qty, b.allocated_qty) == (50, 25, 75)
        assert (c.side, c.crossed_qty, c.executed_qty, c.allocated_qty) == (S, 200, 0, 200)
        assert a.avg_price == pytest.approx((150 * 590.5 + 75 * 591.0) / 225)
        assert a.executed_price == 591.0
        assert c.avg_price == 590.5 and c.executed_price is None
        assert sum(x.signed_allocated for x in allocs.values()) == 100

    def test_partial_fill_largest_remainder(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = self._net(basket, prices)
        allocs = by_sleeve(basket.allocate(res, {"SPY": (101, 591.0)}, {"SPY": 590.5}), "SPY")
        assert (allocs["A"].executed_qty, allocs["B"].executed_qty) == (76, 25)

    def test_full_fill_gives_each_sleeve_its_request(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = self._net(basket, prices)
        allocs = basket.allocate(res, {"SPY": (200, 591.0)}, {"SPY": 590.5})
        assert [(x.sleeve, x.requested_qty, x.allocated_qty) for x in allocs] == [
            ("A", 300, 300), ("B", 100, 100), ("C", 200, 200),
        ]  # fmt: skip

    def test_no_execution_reported_means_unfilled(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        allocs = by_sleeve(basket.allocate(self._net(basket, prices), {}, {"SPY": 590.5}), "SPY")
        assert {s: x.allocated_qty for s, x in allocs.items()} == {"A": 150, "B": 50, "C": 200}

    def test_flat_symbol_crosses_at_arrival_mid(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = basket.net_trades([intent("A", "ES", B, 4), intent("B", "ES", S, 4)], prices)
        allocs = by_sleeve(basket.allocate(res, {}, {"ES": 6000.125}), "ES")
        for sleeve in ("A", "B"):
            x = allocs[sleeve]
            assert (x.allocated_qty, x.crossed_qty, x.crossed_price) == (4, 4, 6000.125)
            assert x.avg_price == 6000.125

    def test_dropped_symbol_allocates_only_its_cross(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = basket.net_trades([intent("A", "SPY", B, 10), intent("B", "SPY", S, 6)], prices)
        assert res.dropped[0].quantity == 4
        allocs = by_sleeve(basket.allocate(res, {}, {"SPY": 590.0}), "SPY")
        assert (allocs["A"].allocated_qty, allocs["A"].unfilled_qty) == (6, 4)
        assert (allocs["B"].allocated_qty, allocs["B"].unfilled_qty) == (6, 0)
        with pytest.raises(InputError, match="dropped"):
            basket.allocate(res, {"SPY": (4, 590.0)}, {"SPY": 590.0})

    def test_allocation_input_errors(
        self, basket: BasketExecutor, prices: dict[str, float]
    ) -> None:
        res = self._net(basket, prices)
        with pytest.raises(InputError, match="mid"):
            basket.allocate(res, {"SPY": (200, 591.0)}, {})
        with pytest.raises(InputError, match="outside"):
            basket.allocate(res, {"SPY": (201, 591.0)}, {"SPY": 590.5})
        with pytest.raises(InputError, match="price"):
            basket.allocate(res, {"SPY": (10, None)}, {"SPY": 590.5})
        with pytest.raises(InputError, match="not in the netting result"):
            basket.allocate(res, {"QQQ": (1, 500.0)}, {"SPY": 590.5})
