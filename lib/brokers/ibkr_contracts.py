"""IB contract fields for an instrument of the registry (no ib_async here).

* ETF / STK: ``STK`` on ``SMART`` with the listing venue as primaryExchange
  (IB names: ARCA, NASDAQ, NYSE; LSE-listed ETFs are ``LSEETF``).
* FUT: by local symbol when the caller pins one (``ESZ6``), else by
  lastTradeDateOrContractMonth (the front quarterly month, rolled
  ``roll_days`` before expiry) with the multiplier; IB's symbol for the
  underlying where it differs from ours (FESX -> ESTX50).
* FX_FUT: IB's naming, e.g. 6E is symbol ``EUR``, tradingClass ``6E`` on CME.

The transport turns a :class:`ContractSpec` into an ib_async ``Contract`` and
qualifies it (reqContractDetails) once per symbol per connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lib.expiries import ROLL_DAYS, front_quarterly_expiry
from lib.types import AssetClass, Instrument

__all__ = ["ContractSpec", "contract_spec", "front_quarterly_month"]

#: Our symbol -> IB's underlying symbol where they differ.
IB_SYMBOLS: dict[str, str] = {"6E": "EUR", "6B": "GBP", "6J": "JPY", "6A": "AUD", "6C": "CAD", "FESX": "ESTX50"}
#: Registry exchange -> IB primaryExchange for SMART-routed stocks and ETFs.
PRIMARY_EXCHANGES: dict[str, str] = {"ARCA": "ARCA", "NASDAQ": "NASDAQ", "NYSE": "NYSE", "LSE": "LSEETF"}


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """The fields of an IB contract request (empty string = unset)."""

    symbol: str  # IB's symbol
    sec_type: str
    exchange: str
    currency: str
    primary_exchange: str = ""
    last_trade_date_or_contract_month: str = ""
    multiplier: str = ""
    local_symbol: str = ""
    trading_class: str = ""


def front_quarterly_month(asset_class: AssetClass, today: date, roll_days: int = ROLL_DAYS) -> str:
    """``YYYYMM`` of the front quarterly contract on ``today`` (rule: lib.expiries)."""
    expiry = front_quarterly_expiry(asset_class, today, roll_days)
    return f"{expiry.year:04d}{expiry.month:02d}"


def _multiplier(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def contract_spec(inst: Instrument, today: date, *, local_symbol: str | None = None) -> ContractSpec:
    """The contract request for ``inst`` on ``today`` (futures: front month
    unless ``local_symbol`` pins one)."""
    if inst.asset_class in (AssetClass.ETF, AssetClass.STK):
        return ContractSpec(
            symbol=inst.symbol, sec_type="STK", exchange="SMART", currency=inst.currency,
            primary_exchange=PRIMARY_EXCHANGES.get(inst.exchange, inst.exchange),
        )  # fmt: skip
    ib_symbol = IB_SYMBOLS.get(inst.symbol, inst.symbol)
    trading_class = inst.symbol if inst.asset_class is AssetClass.FX_FUT or ib_symbol != inst.symbol else ""
    if local_symbol:
        return ContractSpec(
            symbol=ib_symbol, sec_type="FUT", exchange=inst.exchange, currency=inst.currency,
            local_symbol=local_symbol, trading_class=trading_class,
        )  # fmt: skip
    return ContractSpec(
        symbol=ib_symbol, sec_type="FUT", exchange=inst.exchange, currency=inst.currency,
        last_trade_date_or_contract_month=front_quarterly_month(inst.asset_class, today),
        multiplier=_multiplier(inst.multiplier), trading_class=trading_class,
    )  # fmt: skip
