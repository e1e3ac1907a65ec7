"""The instrument registry as IB contracts.

ETFs and stocks are ``STK`` on SMART with the listing exchange as
primaryExchange; futures are ``FUT`` on their exchange, the front quarterly
contract of the session date (rolled 8 days before expiry), with localSymbol
(``ESZ6``), lastTradeDateOrContractMonth (``YYYYMMDD``) and multiplier. FX
futures use IB's naming: 6E is symbol ``EUR``, tradingClass ``6E``. conIds are
fixed per symbol (stable across runs, like IB's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from lib.expiries import front_quarterly_expiry
from lib.instruments import InstrumentRegistry
from lib.types import AssetClass, Instrument

__all__ = ["IbContract", "ContractBook", "ContractQuery", "front_quarterly"]

_MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
#: IB symbol per our symbol where they differ (IB names the underlying).
_IB_SYMBOL = {"6E": "EUR", "FESX": "ESTX50", "MES": "MES", "ES": "ES"}
_PRIMARY = {"ARCA": "ARCA", "NASDAQ": "NASDAQ", "NYSE": "NYSE", "LSE": "LSEETF"}
_TZ = {"CME": "US/Central", "EUREX": "MET", "LSE": "Europe/London"}


@dataclass(frozen=True, slots=True)
class IbContract:
    """One contract as IB describes it (server -> client fields)."""

    symbol: str  # ours (registry key)
    con_id: int
    ib_symbol: str
    sec_type: str
    last_trade: str  # YYYYMMDD for futures, "" for stocks
    multiplier: str  # "" for stocks
    exchange: str  # SMART for stocks
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    min_tick: float
    long_name: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The contract fields a client sends (12 of them)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade: str = ""
    strike: str = ""
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""


def front_quarterly(inst: Instrument, today: date) -> date:
    """Expiry of the front quarterly contract on ``today`` (rule: lib.expiries,
    shared with the IBKR transport)."""
    return front_quarterly_expiry(inst.asset_class, today)


def _con_id(symbol: str) -> int:
    return 100_000 + int(hashlib.sha256(symbol.encode()).hexdigest()[:7], 16) % 900_000_000


def _describe(inst: Instrument, today: date) -> IbContract:
    if inst.asset_class in (AssetClass.ETF, AssetClass.STK):
        return IbContract(
            symbol=inst.symbol, con_id=_con_id(inst.symbol), ib_symbol=inst.symbol, sec_type="STK",
            last_trade="", multiplier="", exchange="SMART",
            primary_exchange=_PRIMARY.get(inst.exchange, inst.exchange), currency=inst.currency,
            local_symbol=inst.symbol, trading_class=inst.symbol if inst.exchange != "NASDAQ" else "NMS",
            min_tick=inst.tick_size, long_name=f"{inst.symbol} ({inst.asset_class.value})",
            time_zone=_TZ.get(inst.exchange, "US/Eastern"),
        )  # fmt: skip
    exp = front_quarterly(inst, today)
    code = f"{_MONTH_CODES[exp.month]}{exp.year % 10}"
    mult = inst.multiplier
    return IbContract(
        symbol=inst.symbol, con_id=_con_id(f"{inst.symbol}{exp:%Y%m%d}"), ib_symbol=_IB_SYMBOL.get(inst.symbol, inst.symbol),
        sec_type="FUT", last_trade=f"{exp:%Y%m%d}", multiplier=str(int(mult)) if mult == int(mult) else str(mult),
        exchange=inst.exchange, primary_exchange="", currency=inst.currency, local_symbol=f"{inst.symbol}{code}",
        trading_class=inst.symbol, min_tick=inst.tick_size, long_name=f"{inst.symbol} futures",
        time_zone=_TZ.get(inst.exchange, "US/Central"),
    )  # fmt: skip


class ContractBook:
    """Every registry instrument as an IbContract, and lookups by query."""

    def __init__(self, registry: InstrumentRegistry, today: date) -> None:
        self.by_symbol = {s: _describe(registry[s], today) for s in registry}
        self.by_con_id = {c.con_id: c for c in self.by_symbol.values()}

    def match(self, q: ContractQuery) -> list[IbContract]:
        """Contracts matching every non-empty field of ``q`` (IB's lookup)."""
        if q.con_id:
            c = self.by_con_id.get(q.con_id)
            return [c] if c is not None else []
        return [c for c in self.by_symbol.values() if _matches(c, q)]


def _matches(c: IbContract, q: ContractQuery) -> bool:
    if q.symbol and q.symbol.upper() not in (c.ib_symbol, c.symbol):
        return False
    if q.local_symbol and q.local_symbol.upper() != c.local_symbol.upper():
        return False
    if q.sec_type and q.sec_type != c.sec_type:
        return False
    if q.trading_class and q.trading_class not in (c.trading_class, c.symbol):
        return False
    if q.exchange and q.exchange not in ("SMART", c.exchange, c.primary_exchange):
        return False
    if q.primary_exchange and c.primary_exchange and q.primary_exchange != c.primary_exchange:
        return False
    if q.currency and q.currency != c.currency:
        return False
    if q.last_trade and not c.last_trade.startswith(q.last_trade):
        return False
    if q.multiplier and c.multiplier and float(q.multiplier) != float(c.multiplier):
        return False
    return True
