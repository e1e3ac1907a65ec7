"""Before anything is sent: targets -> trades -> gating -> netting -> market
context -> pre-trade risk -> plans. Nothing here talks to the broker except
to read quotes, positions and NAV."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from lib.basket import BasketExecutor, NettingResult
from lib.brokers.ibkr_plans import for_ib_algo
from lib.calendars import MarketCalendar, get_market_calendar
from lib.errors import MarketDataRejected, PlanRejected, RejectReason
from lib.fingerprint import fingerprint, trading_inputs
from lib.liquidity import LiquidityEstimator
from lib.pipeline.attempts import report_abandoned_attempts
from lib.pipeline.money import buying_power, fx_table, rates_for
from lib.policy import ExecutionPolicy
from lib.positions_check import check_account_positions
from lib.risk import (
    AnyKillSwitch,
    FileKillSwitch,
    KillSwitch,
    PreTradeRisk,
    RiskBlock,
    RiskReport,
    StaticKillSwitch,
)
from lib.runtime import Runtime, project_path
from lib.store import NettingRecord
from lib.targets import TargetsFile, TradeList, compute_trades, load_targets
from lib.types import MarketDataSnapshot, OrderIntent, OrderPlan, PairGroup
from lib.varpaths import var_path

log = logging.getLogger(__name__)

__all__ = [
    "Deferred",
    "GateReport",
    "MarketContext",
    "PlanSet",
    "Prepared",
    "gate_sessions",
    "make_plans",
    "market_context",
    "net_trades",
    "pre_trade_risk",
    "prepare_trades",
]


@dataclass(frozen=True, slots=True)
class Prepared:
    """Trades of the rebalance. prices: reference mid per symbol; nav in USD."""

    rebalance_id: str
    trades: TradeList
    prices: Mapping[str, float]
    nav: float
    created: bool  # False on a rerun of the same rebalance_id
    ledger: str = ""  # where the ledger is (URL, password hidden): logged on every run
    abandoned: tuple[int, ...] = ()  # earlier attempts that never finished (alerted)


def _mid(snapshot: MarketDataSnapshot, symbol: str) -> float:
    mid = snapshot.mid
    if mid is None or not mid > 0:
        raise MarketDataRejected(symbol, RejectReason.MISSING_QUOTES, "no usable mid for pricing")
    return mid


def prepare_trades(rt: Runtime) -> Prepared:
    """Load and validate the targets, diff them against the sleeve books in the
    ledger, and record the rebalance and its sleeve intents."""
    targets = load_targets(project_path(rt.params.targets), rt.registry)
    rid = rt.rebalance_id
    now = rt.clock.now()
    log.info("rebalance %s: ledger %s", rid, rt.ledger_location)
    inputs = trading_inputs(targets, rt.params, rt.settings, rt.settings.base_currency)
    # The idempotency key check: a rerun with other inputs raises here,
    # before any quote is read or order sent.
    _, created = rt.ledger.claim_rebalance(
        rid,
        fingerprint=fingerprint(inputs),
        inputs=inputs,
        portfolio=rt.settings.portfolio,
        schedule=rt.params.schedule_slug,
        session_date=now.date(),
        params=rt.params.model_dump(mode="json"),
        dry_run=rt.params.dry_run,
    )
    # A killed attempt could not page; this one says so before trading.
    abandoned = () if rt.params.dry_run else report_abandoned_attempts(rt)
    books = {sleeve: rt.ledger.sleeve_positions(sleeve) for sleeve in targets.sleeves}
    check_account_positions(rt)  # ibkr: broker positions vs the books; a break alerts or blocks
    symbols = sorted({s for b in books.values() for s in b} | _target_symbols(targets))
    prices = {s: _mid(rt.broker.get_market_data(s), s) for s in symbols}
    nav = rt.broker.get_account_nav()
    trades = compute_trades(
        targets, books, prices, nav, rt.registry, rt.settings.execution, rid, fx=fx_table(rt)
    )
    rt.ledger.record_intents(rid, trades.intents, kind="sleeve")
    return Prepared(rid, trades, prices, nav, created, rt.ledger_location, abandoned)


def _target_symbols(targets: TargetsFile) -> set[str]:
    out: set[str] = set()
    for req in targets.sleeves.values():
        for t in req.trades or ():
            out.add(t.symbol)
        if req.targets is not None:
            out |= set((req.targets.positions or {}).keys()) | set((req.targets.weights or {}).keys())
    return out


@dataclass(frozen=True, slots=True)
class Deferred:
    """An intent not traded now: its exchange is closed or inside an avoid window."""

    intent_id: str
    symbol: str
    calendar: str
    reason: str
    next_window_start: datetime | None


@dataclass(frozen=True, slots=True)
class GateReport:
    go: tuple[OrderIntent, ...]
    deferred: tuple[Deferred, ...]
    pairs: tuple[PairGroup, ...]
    checked_at: datetime


def gate_sessions(rt: Runtime, prepared: Prepared) -> GateReport:
    """Per exchange calendar (not cron): defer what is closed, in the first
    ``avoid_first_minutes_after_open`` or last ``avoid_last_minutes_before_close``
    minutes, or past an early close. A pair goes only if every leg may go."""
    now = rt.clock.now()
    cfg = rt.settings.execution
    verdict: dict[str, Deferred | None] = {}
    for intent in prepared.trades.intents:
        inst = rt.registry[intent.symbol]
        cal = get_market_calendar(inst.calendar)
        avoid, reason = cal.should_avoid_trading(now, cfg)
        if avoid:
            window = cal.next_tradable_window(now, cfg)
            verdict[intent.intent_id] = Deferred(
                intent.intent_id, intent.symbol, inst.calendar, reason, window[0] if window else None
            )
        else:
            verdict[intent.intent_id] = None
    pairs: list[PairGroup] = []
    for pair in prepared.trades.pairs:
        legs_deferred = [verdict.get(leg.intent_id) for leg in pair.legs]
        blocker = next((d for d in legs_deferred if d is not None), None)
        if blocker is None:
            pairs.append(pair)
            continue
        for leg in pair.legs:
            if verdict.get(leg.intent_id) is None:
                verdict[leg.intent_id] = replace(
                    blocker, intent_id=leg.intent_id, symbol=leg.symbol,
                    reason=f"pair {pair.group_id}: leg {blocker.symbol} deferred ({blocker.reason})",
                )
    go = tuple(i for i in prepared.trades.intents if verdict[i.intent_id] is None)
    deferred = tuple(d for d in verdict.values() if d is not None)
    return GateReport(go, deferred, tuple(pairs), now)


def net_trades(rt: Runtime, prepared: Prepared, gate: GateReport) -> NettingResult:
    """Net the non-pair intents across sleeves (pair legs execute as they are,
    together) and record the netting per symbol."""
    pair_ids = {leg.intent_id for p in gate.pairs for leg in p.legs}
    nettable = [i for i in gate.go if i.intent_id not in pair_ids]
    fx = rates_for(rt, {i.symbol for i in nettable})  # min notional + benefit in base currency
    result = BasketExecutor(rt.settings.execution, rt.registry, fx).net_trades(
        nettable, prepared.prices, rebalance_id=rt.rebalance_id
    )
    records = []
    dropped = {d.symbol: d for d in result.dropped}
    for symbol, b in result.breakdown.items():
        buy = sum(r.signed_quantity for r in b.requests if r.signed_quantity > 0)
        sell = -sum(r.signed_quantity for r in b.requests if r.signed_quantity < 0)
        records.append(
            NettingRecord(
                symbol=symbol,
                gross_buy=buy,
                gross_sell=sell,
                net_quantity=0 if symbol in dropped else b.net_signed_quantity,
                crossed_quantity=min(buy, sell),
                net_intent_id=b.net_intent_id,
                dropped_reason=dropped[symbol].reason if symbol in dropped else None,
                # base currency (lib/basket.py converts with the FX rates)
                benefit_notional=result.benefit.per_symbol[symbol].notional_saved,
            )
        )
    rt.ledger.record_netting(rt.rebalance_id, records)
    return result


@dataclass(frozen=True, slots=True)
class MarketContext:
    """Quotes and ADV for every symbol to trade, taken at ``ts``."""

    snapshots: Mapping[str, MarketDataSnapshot]
    adv: Mapping[str, float]
    ts: datetime


def market_context(rt: Runtime, intents: Sequence[OrderIntent]) -> MarketContext:
    estimator = LiquidityEstimator(rt.registry)
    symbols = sorted({i.symbol for i in intents})
    snaps = {s: rt.broker.get_market_data(s) for s in symbols}
    return MarketContext(snaps, {s: estimator.get_adv(s) for s in symbols}, rt.clock.now())


def _kill_switch(rt: Runtime, extra: KillSwitch | None) -> KillSwitch:
    """The settings' kill-switch file, plus ``extra`` (the orchestrator's switch)."""
    path = rt.settings.risk.kill_switch_file
    # var/KILL_SWITCH is the anchored var folder's (lib.varpaths), from any cwd.
    switches: list[KillSwitch] = [FileKillSwitch(var_path(path)) if path else StaticKillSwitch()]
    if extra is not None:
        switches.append(extra)
    return AnyKillSwitch(*switches)


def pre_trade_risk(
    rt: Runtime,
    intents: Sequence[OrderIntent],
    ctx: MarketContext,
    kill_switch: KillSwitch | None = None,
) -> RiskReport:
    """Run the pre-trade controls; every block is recorded in the ledger.
    ``kill_switch`` adds to the settings' file switch (e.g. a Prefect Variable)."""
    checker = PreTradeRisk(
        rt.settings.risk, rt.settings.execution, rt.registry, _kill_switch(rt, kill_switch)
    )
    prices = {s: m for s, snap in ctx.snapshots.items() if (m := snap.mid) is not None}
    report = checker.check_intents(
        intents, prices, ctx.adv, fx=fx_table(rt), nav=rt.broker.get_account_nav(),
        buying_power=buying_power(rt),
    )
    _record_blocks(rt, report.blocks)
    return report


def _record_blocks(rt: Runtime, blocks: Sequence[RiskBlock]) -> None:
    for b in blocks:
        rt.ledger.record_risk_block(
            rt.rebalance_id, b.control, b.detail, b.symbol, intent_id=b.intent_id
        )


def _remaining_session_seconds(cal: MarketCalendar, now: datetime) -> float | None:
    """Seconds to the close of the session containing ``now`` (None outside
    one). Sessions that open the evening before (CME) belong to the next
    trade date, so both dates are tried."""
    for day in (now.date(), now.date() + timedelta(days=1)):
        session = cal.session(day)
        if session is not None and session[0] <= now < session[1]:
            return (session[1] - now).total_seconds()
    return None


@dataclass(frozen=True, slots=True)
class PlanSet:
    """Plans ready to send, and intents that got no plan: ``rejected`` holds
    the message per intent, ``reject_reasons`` the policy's RejectReason code
    for policy rejections (risk blocks are in ``blocks``)."""

    plans: tuple[OrderPlan, ...]
    rejected: Mapping[str, str]
    blocks: tuple[RiskBlock, ...]
    reject_reasons: Mapping[str, str] = field(default_factory=dict)


def make_plans(
    rt: Runtime,
    intents: Sequence[OrderIntent],
    ctx: MarketContext,
    kill_switch: KillSwitch | None = None,
) -> PlanSet:
    """One plan per approved intent; the plan's prices are risk-checked again
    (price band, kill switch) and the plan is recorded."""
    policy = ExecutionPolicy(rt.settings.execution, rt.registry, rt.clock)
    checker = PreTradeRisk(
        rt.settings.risk, rt.settings.execution, rt.registry, _kill_switch(rt, kill_switch)
    )
    plans: list[OrderPlan] = []
    rejected: dict[str, str] = {}
    reasons: dict[str, str] = {}
    blocks: list[RiskBlock] = []
    for intent in intents:
        if rt.params.mode is not None and intent.mode is None:
            intent = replace(intent, mode=rt.params.mode)
        inst = rt.registry[intent.symbol]
        cal = get_market_calendar(inst.calendar)
        now = rt.clock.now()
        phase = cal.session_phase(now, rt.settings.execution)
        remaining = _remaining_session_seconds(cal, now)
        try:
            plan = policy.create_plan(
                intent, ctx.snapshots[intent.symbol], ctx.adv.get(intent.symbol),
                phase,
                remaining_session_seconds=remaining,
            )
        except PlanRejected as exc:
            rejected[intent.intent_id] = str(exc)
            reasons[intent.intent_id] = exc.reason.value
            continue
        if rt.params.broker == "ibkr":  # IB's own Twap/Vwap, where configured, slice it
            plan = for_ib_algo(plan, rt.settings.ibkr.algo, checker, inst)
        report = checker.check_plan(plan)
        if not report.ok:
            blocks.extend(report.blocks)
            rejected[intent.intent_id] = "; ".join(b.detail for b in report.blocks)
            continue
        row, created = rt.ledger.record_plan(rt.rebalance_id, plan)
        if not created:
            # A rerun prices and collars the residual off today's quotes, but
            # slippage is measured against the FIRST run's arrival mid.
            plan = replace(plan, arrival_mid=row.arrival_mid)
        plans.append(plan)
    _record_blocks(rt, blocks)
    return PlanSet(tuple(plans), rejected, tuple(blocks), reasons)
