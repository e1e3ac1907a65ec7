"""Client -> server requests as ib_async 2.1.0's client.py writes them at
server version 178 (the oracle). Each parser takes the message's fields and
returns a small frozen record; only what the gateway uses is kept, but every
field is consumed in order so a layout change fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.sim.tws.contracts import ContractQuery
from lib.sim.tws.model import TagValue

__all__ = [
    "DecodeError", "ExecFilter", "FieldReader", "MktDataRequest", "PlaceOrder",
    "parse_contract", "parse_exec_filter", "parse_mkt_data", "parse_place_order",
]  # fmt: skip


class DecodeError(ValueError):
    """A client message that does not match the expected layout."""


class FieldReader:
    """Sequential reader over one message's fields."""

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self.fields = fields
        self.pos = start

    def text(self) -> str:
        if self.pos >= len(self.fields):
            raise DecodeError(f"message {self.fields[:1]} too short ({len(self.fields)} fields)")
        v = self.fields[self.pos]
        self.pos += 1
        return v

    def integer(self, default: int = 0) -> int:
        v = self.text()
        try:
            return int(v) if v else default
        except ValueError:
            raise DecodeError(f"field {self.pos - 1} of message {self.fields[0]}: {v!r} is not an integer") from None

    def number(self, default: float | None = None) -> float | None:
        v = self.text()
        if not v:
            return default
        try:
            return float("inf") if v == "Infinite" else float(v)
        except ValueError:
            raise DecodeError(f"field {self.pos - 1} of message {self.fields[0]}: {v!r} is not a number") from None

    def flag(self) -> bool:
        return self.integer() != 0

    def skip(self, n: int) -> None:
        for _ in range(n):
            self.text()

    def rest(self) -> list[str]:
        out = self.fields[self.pos :]
        self.pos = len(self.fields)
        return out


def parse_contract(r: FieldReader) -> ContractQuery:
    """The 12 contract fields the client sends (conId .. tradingClass)."""
    return ContractQuery(
        con_id=r.integer(), symbol=r.text(), sec_type=r.text(), last_trade=r.text(), strike=r.text(), right=r.text(),
        multiplier=r.text(), exchange=r.text(), primary_exchange=r.text(), currency=r.text(), local_symbol=r.text(),
        trading_class=r.text(),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MktDataRequest:
    req_id: int
    contract: ContractQuery
    generic_ticks: str
    snapshot: bool


def parse_mkt_data(fields: list[str]) -> MktDataRequest:
    """reqMktData: 1|11|reqId|contract|[BAG legs]|dnc|[dnc]|genericTicks|snapshot|regSnapshot|options."""
    r = FieldReader(fields, 2)
    req_id = r.integer()
    c = parse_contract(r)
    if c.sec_type == "BAG":
        r.skip(4 * r.integer())
    if r.flag():
        r.skip(3)
    generic = r.text()
    snapshot = r.flag()
    return MktDataRequest(req_id, c, generic, snapshot)


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """The parts of placeOrder the gateway acts on."""

    order_id: int
    contract: ContractQuery
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    algo_strategy: str
    algo_params: tuple[TagValue, ...]
    what_if: bool


def parse_place_order(fields: list[str], server_version: int) -> PlaceOrder:
    """placeOrder at ``server_version`` (client.py placeOrder, field for field)."""
    r = FieldReader(fields, 1)
    order_id = r.integer()
    c = parse_contract(r)
    r.skip(2)  # secIdType, secId
    action, qty, otype = r.text(), r.number(0.0), r.text()
    lmt, aux, tif = r.number(), r.number(), r.text()
    r.skip(1)  # ocaGroup
    account = r.text()
    r.skip(2)  # openClose, origin
    order_ref = r.text()
    transmit, parent_id = r.flag(), r.integer()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.flag()
    r.skip(1)  # hidden
    if c.sec_type == "BAG":
        r.skip(8 * r.integer())
        r.skip(r.integer())
        r.skip(2 * r.integer())
    r.skip(7)  # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
    if server_version < 177:
        r.skip(1)  # faProfile
    r.skip(22)  # modelCode .. volatilityType
    dn_type = r.text()
    r.skip(1)  # deltaNeutralAuxPrice
    if dn_type:
        r.skip(8)
    r.skip(6)  # continuousUpdate .. scaleSubsLevelSize
    incr = r.number()
    if incr is not None and 0 < incr < 1.7976931348623157e308:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.text():  # hedgeType
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.flag():  # deltaNeutralContract
        r.skip(3)
    algo = r.text()
    params: list[TagValue] = []
    if algo:
        for _ in range(r.integer()):
            params.append((r.text(), r.text()))
    r.skip(1)  # algoId
    what_if = r.flag()
    return PlaceOrder(
        order_id=order_id, contract=c, action=action, total_quantity=qty or 0.0, order_type=otype,
        lmt_price=lmt, aux_price=aux, tif=tif, account=account, order_ref=order_ref, transmit=transmit,
        parent_id=parent_id, outside_rth=outside_rth, algo_strategy=algo, algo_params=tuple(params),
        what_if=what_if,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExecFilter:
    """reqExecutions filter; empty / 0 fields match everything."""

    req_id: int
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


def parse_exec_filter(fields: list[str]) -> ExecFilter:
    """reqExecutions: 7|3|reqId|clientId|acctCode|time|symbol|secType|exchange|side."""
    r = FieldReader(fields, 2)
    return ExecFilter(r.integer(), r.integer(), r.text(), r.text(), r.text(), r.text(), r.text(), r.text())
