"""One client connection: handshake, startApi and every request handler.

State is per connection (server version, clientId, market-data and account
subscriptions, messages held during a simulated 1100); orders and executions
live in the shared :class:`~lib.sim.tws.book.GatewayBook` keyed by clientId.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from lib.sim.tws import encode as enc
from lib.sim.tws.decode import (
    DecodeError,
    FieldReader,
    parse_contract,
    parse_exec_filter,
    parse_mkt_data,
    parse_place_order,
)  # fmt: skip
from lib.sim.tws.framing import (
    API_PREFIX,
    Field,
    FrameBuffer,
    HandshakeError,
    frame,
    negotiate_version,
)

if TYPE_CHECKING:
    from lib.sim.tws.server import GatewayServer

__all__ = ["Session"]

log = logging.getLogger("lib.sim.tws")
Msg = list[Field]
_ORDER_TYPES = "ACTIVETIM,ADJUST,ALERT,ALGO,ALLOC,DAY,GTC,IOC,LIT,LMT,LOC,MIT,MKT,MOC,OPG,REL,STP,STPLMT,TRAIL"


class Session:
    """A client connected to the gateway."""

    def __init__(self, server: GatewayServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.server_version = 0
        self.client_id: int | None = None
        self.mkt_subs: dict[int, str] = {}  # reqId -> symbol (streaming)
        self.account_updates: str | None = None
        self.md_type = 1  # reqMarketDataType
        self.positions_subscribed = False  # reqPositions streams later changes until cancelPositions
        self.held: list[tuple[bytes, bool]] = []  # (frame, live) while connectivity is lost
        self.closed = False
        self._handlers: dict[int, Callable[[list[str]], None]] = {
            71: self._start_api, 49: self._current_time, 8: self._req_ids, 9: self._contract_details,
            61: self._positions, 64: self._cancel_positions, 5: self._open_orders, 16: self._open_orders,
            15: lambda f: None, 99: self._completed_orders, 6: self._account_updates,
            76: self._account_updates_multi, 77: lambda f: None, 7: self._executions, 62: self._account_summary,
            63: lambda f: None, 1: self._mkt_data, 2: self._cancel_mkt_data, 59: self._mkt_data_type,
            3: self._place_order, 4: self._cancel_order, 58: self._global_cancel, 17: self._managed_accounts,
        }  # fmt: skip

    # ----- output -----
    def send(self, msg: Msg, *, live: bool = False) -> None:
        """Write one message; ``live`` (unsolicited order/market updates) are
        held while the gateway simulates lost connectivity."""
        if self.closed:
            return
        data = frame(msg)
        if self.server.faults.lost and (live or self.held):
            self.held.append((data, live))
            return
        self.writer.write(data)

    def release_held(self, keep_live: bool) -> None:
        held, self.held = self.held, []
        for data, live in held:
            if keep_live or not live:
                self.writer.write(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    # ----- input -----
    async def run(self) -> None:
        buf = FrameBuffer()
        prefixed = False
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                if not prefixed:
                    buf.append(data)
                    ok = buf.take_prefix(API_PREFIX)
                    if ok is None:
                        continue
                    if ok is False:
                        log.warning("client did not open with API\\0; closing")
                        break
                    prefixed, data = True, b""
                for fields in buf.feed(data):
                    if not self.server_version:
                        if not self._handshake(fields):
                            return
                        continue
                    self._dispatch(fields)
                    if self.closed:
                        return
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()
            self.server.forget(self)

    def _handshake(self, fields: list[str]) -> bool:
        try:
            self.server_version = negotiate_version(fields[0] if fields else "")
        except HandshakeError as exc:
            log.warning("handshake refused: %s", exc)
            return False
        self.writer.write(frame([self.server_version, enc.ib_time(self.server.now())]))
        return True

    def _dispatch(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (IndexError, ValueError):
            log.warning("malformed message %r", fields[:3])
            return
        handler = self._handlers.get(msg_id)
        if handler is None:
            log.info("ignored request %s", msg_id)
            return
        if self.client_id is None and msg_id != 71:
            log.warning("request %s before startApi", msg_id)
            return
        try:
            handler(fields)
        except DecodeError as exc:
            log.warning("bad request %s: %s", msg_id, exc)
            self.send(enc.error(-1, 320, f"Error reading request: {exc}"))
        except Exception:  # a gateway bug must not kill the connection silently
            log.exception("request %s failed", msg_id)
            self.send(enc.error(-1, 321, f"Server error when validating an API client request ({msg_id})"))

    # ----- connection -----
    def _start_api(self, fields: list[str]) -> None:
        client_id = FieldReader(fields, 2).integer()
        if self.server.client_in_use(client_id, self):
            self.send(enc.error(-1, 326, "Unable to connect as the client id is already in use. "
                                         "Retry with a unique client id."))  # fmt: skip
            asyncio.get_running_loop().call_soon(self.close)
            return
        self.client_id = client_id
        self.send(enc.next_valid_id(self.server.book.next_valid_id(client_id)))
        self.send(enc.managed_accounts(self.server.accounts))
        for code, text in self.server.datafarm_notices():
            self.send(enc.error(-1, code, text))

    def _managed_accounts(self, fields: list[str]) -> None:
        self.send(enc.managed_accounts(self.server.accounts))

    def _current_time(self, fields: list[str]) -> None:
        self.send(enc.current_time(int(self.server.now().timestamp())))

    def _req_ids(self, fields: list[str]) -> None:
        assert self.client_id is not None
        self.send(enc.next_valid_id(self.server.book.next_valid_id(self.client_id)))

    # ----- contracts and market data -----
    def _contract_details(self, fields: list[str]) -> None:
        r = FieldReader(fields, 2)
        req_id = r.integer()
        q = parse_contract(r)
        matches = self.server.book.contracts.match(q)
        if not matches:
            self.send(enc.error(req_id, 200, "No security definition has been found for the request"))
            return
        for c in matches:
            exch = q.exchange if q.exchange and c.sec_type == "STK" else c.exchange
            self.send(enc.contract_details(req_id, c, exch, _ORDER_TYPES))
        self.send(enc.contract_details_end(req_id))

    def _mkt_data_type(self, fields: list[str]) -> None:
        """1 live, 2 frozen, 3 delayed, 4 delayed-frozen: the simulator's ticks
        either way, sent as IB's delayed tick types (66/67/68/75) for 3 and 4."""
        self.md_type = FieldReader(fields, 2).integer(1)

    def _mkt_data(self, fields: list[str]) -> None:
        req = parse_mkt_data(fields)
        matches = self.server.book.contracts.match(req.contract)
        if len(matches) != 1:
            self.send(enc.error(req.req_id, 200, "No security definition has been found for the request"))
            return
        symbol = matches[0].symbol
        if symbol in self.server.faults.no_data:
            self.send(enc.error(req.req_id, 354, "Requested market data is not subscribed."))
            return
        self.send(enc.market_data_type(req.req_id, self.md_type))
        self.send_ticks(req.req_id, symbol)
        if req.snapshot:
            self.send(enc.tick_snapshot_end(req.req_id))
        else:
            self.mkt_subs[req.req_id] = symbol

    def send_ticks(self, req_id: int, symbol: str, *, live: bool = False) -> None:
        snap = self.server.snapshot(symbol)
        delayed = self.md_type in (3, 4)
        bid, ask, last, close = (66, 67, 68, 75) if delayed else (1, 2, 4, 9)
        if snap.bid is not None:
            self.send(enc.tick_price(req_id, bid, snap.bid, snap.bid_size or 0.0, 0), live=live)
        if snap.ask is not None:
            self.send(enc.tick_price(req_id, ask, snap.ask, snap.ask_size or 0.0, 0), live=live)
        if snap.last is not None:
            self.send(enc.tick_price(req_id, last, snap.last, 1.0, 0), live=live)
        if snap.close is not None and not live:
            self.send(enc.tick_price(req_id, close, snap.close, 0.0, 0))

    def _cancel_mkt_data(self, fields: list[str]) -> None:
        self.mkt_subs.pop(FieldReader(fields, 2).integer(), None)

    # ----- orders -----
    def _place_order(self, fields: list[str]) -> None:
        assert self.client_id is not None
        self.server.place_order(self, parse_place_order(fields, self.server_version))

    def _cancel_order(self, fields: list[str]) -> None:
        assert self.client_id is not None
        self.server.cancel_order(self, FieldReader(fields, 2).integer())

    def _global_cancel(self, fields: list[str]) -> None:
        for o in list(self.server.book.orders.values()):
            if not o.is_done:
                self.server.route(self.server.book.cancel(o))

    def _open_orders(self, fields: list[str]) -> None:
        for o in self.server.book.orders.values():
            if not o.is_done and (o.client_id == self.client_id or fields[0] == "16"):
                self.send(enc.open_order(o))
                self.send(enc.order_status(o))
        self.send(enc.open_order_end())

    def _completed_orders(self, fields: list[str]) -> None:
        for o in self.server.book.orders.values():
            if o.is_done:
                self.send(enc.completed_order(o))
        self.send(enc.completed_orders_end())

    def _executions(self, fields: list[str]) -> None:
        f = parse_exec_filter(fields)
        for e in self.server.filtered_executions(f):
            self.send(enc.exec_details(f.req_id, e, self.server.book.contract(e.symbol)))
            self.send(enc.commission_report(e.exec_id, e.commission, e.currency))
        self.send(enc.exec_details_end(f.req_id))

    # ----- account -----
    def _cancel_positions(self, fields: list[str]) -> None:
        self.positions_subscribed = False

    def send_position(self, account: str, symbol: str) -> None:
        qty = self.server.book.positions(account).get(symbol, 0)
        cost = self.server.book.avg_cost.get((account, symbol), 0.0)
        self.send(enc.position(account, self.server.book.contract(symbol), qty, cost), live=True)

    def _positions(self, fields: list[str]) -> None:
        self.positions_subscribed = True
        for account in self.server.accounts:
            for symbol, qty in sorted(self.server.book.positions(account).items()):
                cost = self.server.book.avg_cost.get((account, symbol), 0.0)
                self.send(enc.position(account, self.server.book.contract(symbol), qty, cost))
        self.send(enc.position_end())

    def _account_summary(self, fields: list[str]) -> None:
        r = FieldReader(fields, 2)
        req_id, _group, tags = r.integer(), r.text(), r.text()
        wanted = {t for t in tags.split(",") if t}
        for account in self.server.accounts:
            for tag, value, ccy in self.server.account_values(account):
                if not wanted or tag in wanted:
                    self.send(enc.account_summary(req_id, account, tag, value, ccy))
        self.send(enc.account_summary_end(req_id))

    def _account_updates(self, fields: list[str]) -> None:
        r = FieldReader(fields, 2)
        subscribe, account = r.flag(), r.text()
        account = account or self.server.accounts[0]
        if not subscribe:
            self.account_updates = None
            return
        self.account_updates = account
        self.send_account_updates(account)
        self.send(enc.account_download_end(account))

    def send_account_updates(self, account: str, *, live: bool = False) -> None:
        for tag, value, ccy in self.server.account_values(account):
            self.send(enc.account_value(tag, value, ccy, account), live=live)
        for symbol, qty in sorted(self.server.book.positions(account).items()):
            c = self.server.book.contract(symbol)
            mid = self.server.mid(symbol)
            mult = float(c.multiplier or 1)
            cost = self.server.book.avg_cost.get((account, symbol), 0.0)
            worth = qty * mid * mult
            self.send(enc.portfolio_value(c, qty, mid, worth, cost, worth - qty * cost, account), live=live)
        self.send(enc.account_time(self.server.now()), live=live)

    def _account_updates_multi(self, fields: list[str]) -> None:
        r = FieldReader(fields, 2)
        req_id, account = r.integer(), r.text()
        for acct in [account] if account else list(self.server.accounts):
            for tag, value, ccy in self.server.account_values(acct):
                self.send(enc.account_update_multi(req_id, acct, tag, value, ccy))
        self.send(enc.account_update_multi_end(req_id))
