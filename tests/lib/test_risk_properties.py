"""Invariants of pre-trade risk over random rebalances (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lib.config import ExecutionConfig
from lib.instruments import load_instruments
from lib.risk import PreTradeRisk, RiskConfig, StaticKillSwitch
from lib.types import OrderIntent, Side

REGISTRY = load_instruments()
SYMBOLS = [*REGISTRY, "ZZZ"]  # one unknown symbol

_intent = st.builds(
    OrderIntent,
    intent_id=st.sampled_from([f"rb:{k}" for k in range(12)]),  # collisions happen
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from(list(Side)),
    quantity=st.integers(0, 300_000),
    sleeve=st.sampled_from(["trend", "carry", None]),
)
_price = st.one_of(
    st.floats(0.5, 10_000, allow_nan=False),
    st.just(float("nan")),
    st.just(0.0),
)
_config = st.builds(
    RiskConfig,
    max_order_notional_usd=st.floats(1e4, 5e6),
    max_gross_notional_usd=st.just(5e6) | st.floats(5e6, 1e9),
    max_adv_fraction=st.floats(0.001, 1.0),
)


@settings(max_examples=300, deadline=None)
@given(
    intents=st.lists(_intent, max_size=15),
    prices=st.dictionaries(st.sampled_from(SYMBOLS), _price),
    advs=st.dictionaries(st.sampled_from(SYMBOLS), st.floats(1, 1e8)),
    config=_config,
    engaged=st.booleans(),
)
def test_risk_invariants(
    intents: list[OrderIntent],
    prices: dict[str, float],
    advs: dict[str, float],
    config: RiskConfig,
    engaged: bool,
) -> None:
    checker = PreTradeRisk(config, ExecutionConfig(), REGISTRY, StaticKillSwitch(engaged, "stop"))
    report = checker.check_intents(intents, prices, advs)

    # nothing dropped: approved + blocked is every intent, in order, each once
    assert len(report.approved) + len(report.blocked) == len(intents)
    assert sorted(map(id, (*report.approved, *report.blocked))) == sorted(map(id, intents))
    # every blocked intent carries at least one reason, approved ones none
    blocked_ids = {i.intent_id for i in report.blocked}
    assert blocked_ids == {b.intent_id for b in report.blocks}
    assert all(b.detail for b in report.blocks)
    if engaged:
        assert report.approved == ()
    if report.gross_notional_usd > config.max_gross_notional_usd:
        assert report.approved == ()

    for i in report.approved:
        inst = REGISTRY[i.symbol]
        notional = inst.notional(prices[i.symbol], i.quantity)
        assert notional <= config.max_order_notional_usd
        assert i.quantity / advs.get(i.symbol, inst.profile.adv) <= config.max_adv_fraction
    approved_gross = sum(
        REGISTRY[i.symbol].notional(prices[i.symbol], i.quantity) for i in report.approved
    )
    assert approved_gross <= config.max_gross_notional_usd * (1 + 1e-12)
    ids = [i.intent_id for i in report.approved]
    assert len(ids) == len(set(ids))  # never two approved copies of one intent
