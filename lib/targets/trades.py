"""Targets -> trades: explicit trades pass through, targets are diffed.

For a sleeve with ``targets`` the trade is ``target - book`` per symbol, where
a symbol held in the book but not listed is targeted to 0 (the targets are the
sleeve's whole portfolio). Weights become quantities as::

    quantity = trunc(weight * NAV / (price * multiplier * rate))     # toward zero

where NAV is in the base currency (USD), price is in the instrument's own
currency and ``rate`` is base units per one unit of that currency (from the
:class:`lib.fx.FxTable`; 1 for the base currency). A weight target whose
currency has no usable rate (unknown or stale) raises
:class:`lib.errors.FxUnavailable` naming every such target: nothing is sent.

Diffs whose notional ``|diff| * price * multiplier`` is below
``rebalance_drift_threshold_pct * NAV`` are skipped and reported as
:class:`SkippedTrade`; explicit trades never are (someone asked for them).
Pair legs are judged together: if any leg of a pair must trade, every leg with
a non-zero diff trades, so a drift skip never breaks a pair. A pair left with
fewer than two legs to trade is reported as :class:`DissolvedPair` and its
remaining leg trades on its own.

Drift notionals are converted to the base currency the same way; a diff
whose currency has no rate cannot be measured and is never skipped on drift
(pre-trade risk blocks it with the FX reason). Without an FxTable only the
base currency has a rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from lib.config import ExecutionConfig
from lib.errors import FxUnavailable, InputError, MarketDataRejected, RejectReason
from lib.fx import BASE_CURRENCY, FxTable
from lib.instruments import InstrumentRegistry
from lib.targets.models import SleeveRequest, TargetsFile
from lib.types import OrderIntent, PairGroup, Side

__all__ = [
    "DissolvedPair",
    "SkippedTrade",
    "TradeList",
    "compute_trades",
    "weight_to_quantity",
]

#: Reason recorded on a SkippedTrade below the drift threshold.
BELOW_DRIFT_THRESHOLD = "below_drift_threshold"


@dataclass(frozen=True, slots=True)
class SkippedTrade:
    """A target diff not traded. ``quantity`` is the absolute diff in
    shares/contracts; notionals in the base currency (USD)."""

    sleeve: str
    symbol: str
    side: Side
    quantity: int
    current: int
    target: int
    notional_usd: float
    threshold_usd: float
    reason: str = BELOW_DRIFT_THRESHOLD

    @property
    def detail(self) -> str:
        return (
            f"{self.sleeve}/{self.symbol}: {self.side.value} {self.quantity} "
            f"({self.current} -> {self.target}) notional ${self.notional_usd:,.0f} "
            f"< threshold ${self.threshold_usd:,.0f}: {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class DissolvedPair:
    """A pair group that did not become a :class:`PairGroup` (fewer than two
    legs to trade). ``trading`` lists the intent ids that trade unpaired."""

    group_id: str
    trading: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class TradeList:
    """The trades of one rebalance, in file order (sleeve, then item)."""

    rebalance_id: str
    intents: tuple[OrderIntent, ...]
    skipped: tuple[SkippedTrade, ...] = ()
    pairs: tuple[PairGroup, ...] = ()
    dissolved_pairs: tuple[DissolvedPair, ...] = ()


@dataclass(frozen=True, slots=True)
class _Candidate:
    sleeve: str
    symbol: str
    signed: int
    current: int
    target: int
    notional_usd: float
    from_targets: bool


def weight_to_quantity(weight: float, nav: float, price: float, multiplier: float) -> int:
    """``trunc(weight * nav / (price * multiplier))``: whole units, toward zero.

    Rounded to 1e-6 units before truncation so that a float product such as
    0.29999999 * ... that is meant to be exactly 300 does not become 299.
    """
    raw = weight * nav / (price * multiplier)
    return math.trunc(round(raw, 6))


def _price(symbol: str, prices: Mapping[str, float], why: str) -> float:
    price = prices.get(symbol)
    if price is None:
        raise MarketDataRejected(symbol, RejectReason.MISSING_QUOTES, f"no price; needed {why}")
    if not math.isfinite(price) or price <= 0:
        raise MarketDataRejected(
            symbol, RejectReason.INVALID_PRICE, f"price {price!r}; needed {why}"
        )
    return price


def _rate(fx: FxTable | None, currency: str) -> tuple[float | None, str]:
    """(base units per unit of ``currency``, "") or (None, why there is none)."""
    if fx is not None:
        return fx.try_rate(currency)
    if currency == BASE_CURRENCY:
        return 1.0, ""
    return None, f"no FX table: only {BASE_CURRENCY} has a rate"


def _sleeve_candidates(
    sleeve: str,
    request: SleeveRequest,
    book: Mapping[str, int],
    prices: Mapping[str, float],
    nav: float,
    registry: InstrumentRegistry,
    fx: FxTable | None,
    fx_problems: list[tuple[str, str]],
) -> list[_Candidate]:
    if request.trades is not None:
        return [
            _Candidate(
                sleeve,
                t.symbol,
                t.signed_quantity,
                book.get(t.symbol, 0),
                book.get(t.symbol, 0) + t.signed_quantity,
                0.0,
                False,
            )
            for t in request.trades
        ]
    targets = request.targets
    assert targets is not None  # a validated SleeveRequest has one or the other
    wanted: dict[str, int] = {}
    if targets.positions is not None:
        wanted = dict(targets.positions)
    else:
        for symbol, w in (targets.weights or {}).items():
            if w == 0:
                wanted[symbol] = 0
                continue
            inst = registry[symbol]
            price = _price(symbol, prices, "to convert a target weight")
            rate, why = _rate(fx, inst.currency)
            if rate is None:
                fx_problems.append((inst.currency, f"weight target {sleeve}/{symbol}: {why}"))
                continue
            wanted[symbol] = weight_to_quantity(w, nav, price * rate, inst.multiplier)
    # Held but not listed: the targets are the whole sleeve, so close it.
    for symbol in sorted(s for s, q in book.items() if q != 0 and s not in wanted):
        wanted[symbol] = 0
    out: list[_Candidate] = []
    for symbol, target in wanted.items():
        current = book.get(symbol, 0)
        diff = target - current
        if diff == 0:
            continue  # nothing to do is not a skip
        inst = registry[symbol]
        price = _price(symbol, prices, "to measure drift against the threshold")
        rate, _ = _rate(fx, inst.currency)
        notional = inst.notional(price, diff) * rate if rate is not None else math.inf
        out.append(_Candidate(sleeve, symbol, diff, current, target, notional, True))
    return out


def compute_trades(
    targets: TargetsFile,
    sleeve_books: Mapping[str, Mapping[str, int]],
    prices: Mapping[str, float],
    nav: float,
    registry: InstrumentRegistry,
    config: ExecutionConfig,
    rebalance_id: str,
    fx: FxTable | None = None,
) -> TradeList:
    """Turn validated targets into :class:`OrderIntent` objects.

    sleeve_books: sleeve -> symbol -> current signed quantity (missing = flat).
    prices: symbol -> reference price (the instrument's own currency).
    nav: portfolio NAV in the base currency (USD; weights and drift threshold).
    fx: converts instrument currencies to the base currency (None: only the
    base currency has a rate). A weight target without a usable rate raises
    FxUnavailable naming every such target.
    intent ids are ``f"{rebalance_id}:{sleeve}:{symbol}"`` (deterministic, so
    a rerun of the same rebalance yields the same ids).
    """
    uses_targets = any(r.targets is not None for _, r in targets.iter_requests())
    if uses_targets and (not math.isfinite(nav) or nav <= 0):
        raise InputError(
            targets.source,
            None,
            "nav",
            f"NAV must be a positive finite USD amount to size targets, got {nav!r}",
        )
    threshold_usd = config.rebalance_drift_threshold_pct * nav if uses_targets else 0.0

    candidates: list[_Candidate] = []
    fx_problems: list[tuple[str, str]] = []
    for sleeve, request in targets.iter_requests():
        book = sleeve_books.get(sleeve, {})
        candidates.extend(
            _sleeve_candidates(sleeve, request, book, prices, nav, registry, fx, fx_problems)
        )
    if fx_problems:
        raise FxUnavailable(
            fx_problems[0][0],
            fx.base if fx is not None else BASE_CURRENCY,
            f"{targets.source}: " + "; ".join(why for _, why in fx_problems),
        )

    def below(c: _Candidate) -> bool:
        return c.from_targets and c.notional_usd < threshold_usd

    pair_of = {(leg.sleeve, leg.symbol): p.group for p in targets.pairs for leg in p.legs}
    # A pair trades if any of its legs must: never skip one leg of a live pair.
    live_pairs = {
        pair_of[(c.sleeve, c.symbol)]
        for c in candidates
        if (c.sleeve, c.symbol) in pair_of and not below(c)
    }
    kept: list[_Candidate] = []
    skipped: list[SkippedTrade] = []
    for c in candidates:
        group = pair_of.get((c.sleeve, c.symbol))
        if below(c) and group not in live_pairs:
            skipped.append(
                SkippedTrade(
                    c.sleeve,
                    c.symbol,
                    Side.from_signed(c.signed),
                    abs(c.signed),
                    c.current,
                    c.target,
                    c.notional_usd,
                    threshold_usd,
                )
            )
        else:
            kept.append(c)

    legs_by_group: dict[str, list[tuple[str, str]]] = {}
    for c in kept:
        group = pair_of.get((c.sleeve, c.symbol))
        if group is not None:
            legs_by_group.setdefault(group, []).append((c.sleeve, c.symbol))
    paired = {g for g, legs in legs_by_group.items() if len(legs) >= 2}

    intents: dict[tuple[str, str], OrderIntent] = {}
    for c in kept:
        group = pair_of.get((c.sleeve, c.symbol))
        intents[(c.sleeve, c.symbol)] = OrderIntent(
            intent_id=f"{rebalance_id}:{c.sleeve}:{c.symbol}",
            symbol=c.symbol,
            side=Side.from_signed(c.signed),
            quantity=abs(c.signed),
            sleeve=c.sleeve,
            asset_class=registry[c.symbol].asset_class,
            pair_group=group if group in paired else None,
        )

    pairs: list[PairGroup] = []
    dissolved: list[DissolvedPair] = []
    for spec in targets.pairs:
        legs = tuple(
            intents[(leg.sleeve, leg.symbol)]
            for leg in spec.legs
            if (leg.sleeve, leg.symbol) in intents
        )
        if spec.group in paired:
            pairs.append(PairGroup(spec.group, legs, spec.hedge_symbol, spec.hedge_ratio))
            continue
        reason = (
            "no leg needs trading (no change or below drift threshold)"
            if not legs
            else f"only {len(legs)} leg needs trading; it trades unpaired"
        )
        dissolved.append(DissolvedPair(spec.group, tuple(i.intent_id for i in legs), reason))

    return TradeList(
        rebalance_id=rebalance_id,
        intents=tuple(intents.values()),
        skipped=tuple(skipped),
        pairs=tuple(pairs),
        dissolved_pairs=tuple(dissolved),
    )
