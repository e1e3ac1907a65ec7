"""GatewayServer: the sessions, the book, routing of order events and faults.

Runs entirely on the gateway's event loop. :meth:`step` is called by the
pacer after every advance of the virtual clock: it collects what the
simulator did, routes each event to the connection of the order's clientId
(IB sends order updates to the client that placed the order), releases
delayed messages and streams market data.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lib.sim.tws import encode as enc
from lib.sim.tws.book import BookEvent, GatewayBook
from lib.sim.tws.decode import ExecFilter, PlaceOrder
from lib.sim.tws.encode import parse_ib_time
from lib.sim.tws.faults import DATAFARM_NOTICES, FaultState
from lib.sim.tws.framing import Field
from lib.sim.tws.model import GatewayExecution
from lib.sim.tws.rules import Refusal
from lib.sim.tws.session import Session
from lib.types import MarketDataSnapshot

__all__ = ["GatewayServer"]

log = logging.getLogger("lib.sim.tws")
_NY = ZoneInfo("America/New_York")
Msg = list[Field]
#: Virtual seconds between streamed market-data updates.
TICK_INTERVAL_S = 1.0


class GatewayServer:
    """State shared by every connection of one gateway."""

    def __init__(self, book: GatewayBook, accounts: tuple[str, ...]) -> None:
        self.book = book
        self.accounts = accounts
        self.faults = FaultState()
        self.sessions: list[Session] = []
        self.outbox: list[tuple[datetime, int, Msg, bool]] = []  # (release, clientId, msg, live)
        self._last_ticks = book.now()

    def now(self) -> datetime:
        return self.book.now()

    # ----- connections -----
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = Session(self, reader, writer)
        self.sessions.append(s)
        await s.run()

    def forget(self, s: Session) -> None:
        if s in self.sessions:
            self.sessions.remove(s)

    def client_in_use(self, client_id: int, me: Session) -> bool:
        return any(s is not me and not s.closed and s.client_id == client_id for s in self.sessions)

    def session_of(self, client_id: int) -> Session | None:
        for s in self.sessions:
            if s.client_id == client_id and not s.closed:
                return s
        return None

    def datafarm_notices(self) -> tuple[tuple[int, str], ...]:
        return DATAFARM_NOTICES

    def broadcast_datafarm(self) -> None:
        for s in self.sessions:
            for code, text in DATAFARM_NOTICES:
                s.send(enc.error(-1, code, text))

    def drop_all(self) -> None:
        for s in list(self.sessions):
            s.closed = True
            s.writer.transport.abort()
            self.forget(s)

    def connectivity_lost(self) -> None:
        for s in self.sessions:
            s.send(enc.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost."))
        self.faults.lost = True

    def connectivity_restored(self, code: int) -> None:
        self.faults.lost = False
        text = ("Connectivity between IB and Trader Workstation has been restored - data maintained."
                if code == 1102 else "Connectivity between IB and Trader Workstation has been restored - data lost.")  # fmt: skip
        for s in self.sessions:
            held, s.held = s.held, []
            s.send(enc.error(-1, code, text))
            s.held = held
            s.release_held(keep_live=code == 1102)
            if code == 1101:
                s.mkt_subs.clear()

    # ----- orders -----
    def place_order(self, s: Session, req: PlaceOrder) -> None:
        assert s.client_id is not None
        existing = self.book.find(s.client_id, req.order_id)
        if existing is not None:
            events = self.book.modify(existing, req)
            self._maybe_drop("modify")
            self.route(events)
            return
        if req.account and req.account not in self.accounts:
            s.send(enc.error(req.order_id, 201, f"Order rejected - reason:account {req.account} is not managed here"))
            return
        forced = Refusal(*self.faults.rejects.pop(0)) if self.faults.rejects else None
        result = self.book.place(s.client_id, req, req.account or self.accounts[0], forced=forced)
        if isinstance(result, Refusal):
            s.send(enc.error(req.order_id, result.code, result.message))
            return
        self._maybe_drop("place")
        self.route(result)

    def cancel_order(self, s: Session, order_id: int) -> None:
        assert s.client_id is not None
        o = self.book.find(s.client_id, order_id)
        if o is None:
            s.send(enc.error(order_id, 135, f"Can't find order with id ={order_id}"))
            return
        events = self.book.cancel(o)
        self._maybe_drop("cancel")
        self.route(events)

    def correct_execution(self, exec_id: str, price: float) -> str:
        """Re-send an execution as IB's correction (execId suffix bumped) at ``price``."""
        execs = self.book.executions
        idx = next((i for i, e in enumerate(execs) if e.exec_id == exec_id), None)
        if idx is None:
            raise KeyError(f"no execution {exec_id!r}")
        e = execs[idx]
        base, _, n = e.exec_id.rpartition(".")
        fixed = replace(e, exec_id=f"{base}.{int(n) + 1:02d}", price=price,
                        avg_price=price if e.cum_qty == e.shares else e.avg_price)  # fmt: skip
        execs[idx] = fixed
        self._execution(self.now(), fixed)
        return fixed.exec_id

    def _maybe_drop(self, kind: str) -> None:
        """Fault: the request acted at the gateway; the client hears nothing of it."""
        if kind in self.faults.drop_on:
            self.faults.drop_on.discard(kind)
            self.drop_all()

    def route(self, events: list[BookEvent]) -> None:
        now = self.now()
        fills_for: set[str] = set()
        moved: set[tuple[str, str]] = set()
        for ev in events:
            o = ev.order
            if ev.kind == "error":
                self._emit(now, o.client_id, enc.error(o.order_id, ev.code, ev.message), live=False)
            elif ev.kind == "status":
                delay = timedelta(seconds=self.faults.ack_delay_s)
                if ev.open_order or (not o.acked and not o.is_done):
                    o.acked = True
                    self._emit(now + delay, o.client_id, enc.open_order(o), live=True)
                self._emit(now + delay, o.client_id, enc.order_status(o), live=True)
            elif ev.execution is not None:
                if not o.acked:  # the ack and the first fill in one step: ack first, as IB does
                    o.acked, status = True, o.status
                    o.status = "Submitted"
                    self._emit(now, o.client_id, enc.open_order(o), live=True)
                    self._emit(now, o.client_id, enc.order_status(o), live=True)
                    o.status = status
                fills_for.add(o.account)
                moved.add((o.account, o.contract.symbol))
                self._execution(now, ev.execution)
        for s in self.sessions:
            if s.positions_subscribed:
                for account, symbol in sorted(moved):
                    s.send_position(account, symbol)
            if s.account_updates in fills_for:
                s.send_account_updates(s.account_updates, live=True)

    def _execution(self, now: datetime, e: GatewayExecution) -> None:
        self._emit(now, e.client_id, enc.exec_details(-1, e, self.book.contract(e.symbol)), live=True)
        real = enc.commission_report(e.exec_id, e.commission, e.currency)
        mode = self.faults.commission_mode
        if mode == "delayed":
            self._emit(now + timedelta(seconds=self.faults.commission_delay_s), e.client_id, real, live=True)
            return
        if mode == "zero_first":
            self._emit(now, e.client_id, enc.commission_report(e.exec_id, 0.0, e.currency), live=True)
        self._emit(now, e.client_id, real, live=True)
        if mode == "duplicate":
            self._emit(now, e.client_id, real, live=True)

    def _emit(self, when: datetime, client_id: int, msg: Msg, *, live: bool) -> None:
        if when > self.now() or self.outbox:
            self.outbox.append((when, client_id, msg, live))
            self._release()
            return
        s = self.session_of(client_id)
        if s is not None:
            s.send(msg, live=live)

    def _release(self) -> None:
        now = self.now()
        keep: list[tuple[datetime, int, Msg, bool]] = []
        for item in self.outbox:
            when, client_id, msg, live = item
            if when <= now and not any(k[1] == client_id for k in keep):
                s = self.session_of(client_id)
                if s is not None:
                    s.send(msg, live=live)
            else:
                keep.append(item)
        self.outbox = keep

    # ----- the pacer's step -----
    def step(self) -> None:
        self.route(self.book.collect())
        self._release()
        now = self.now()
        if (now - self._last_ticks).total_seconds() >= TICK_INTERVAL_S:
            self._last_ticks = now
            for s in self.sessions:
                for req_id, symbol in list(s.mkt_subs.items()):
                    s.send_ticks(req_id, symbol, live=True)

    # ----- views -----
    def snapshot(self, symbol: str) -> MarketDataSnapshot:
        return self.book.brokers[self.accounts[0]].get_market_data(symbol)

    def mid(self, symbol: str) -> float:
        return self.book.brokers[self.accounts[0]].sim.mid(symbol)

    def account_values(self, account: str) -> list[tuple[str, str, str]]:
        broker = self.book.brokers[account]
        nav = broker.get_account_nav()
        gross = sum(
            abs(q) * broker.sim.mid(sym) * broker.instruments[sym].multiplier * broker._fx(sym)  # noqa: SLF001
            for sym, q in broker.positions.items()
        )
        v = [("NetLiquidation", nav), ("TotalCashValue", broker.cash), ("BuyingPower", 4.0 * nav),
             ("AvailableFunds", nav), ("EquityWithLoanValue", nav), ("ExcessLiquidity", nav),
             ("GrossPositionValue", gross)]  # fmt: skip
        # IB reports one ExchangeRate account value per currency (base = 1): the
        # transport's FX source for non-USD instruments such as FESX.
        rates = [("ExchangeRate", f"{r:.6f}", ccy) for ccy, r in sorted(broker.config.fx_to_base.items())]
        return [("AccountType", "INDIVIDUAL", ""), *[(k, f"{x:.2f}", "USD") for k, x in v], *rates]

    def filtered_executions(self, f: ExecFilter) -> list[GatewayExecution]:
        """Executions since midnight New York of today (IB's rule) matching the filter."""
        midnight = self.now().astimezone(_NY).replace(hour=0, minute=0, second=0, microsecond=0)
        since = max(midnight, parse_ib_time(f.time)) if f.time else midnight
        side = {"BUY": "BOT", "SELL": "SLD"}.get(f.side.upper(), f.side.upper())
        out = []
        for e in self.book.executions:
            c = self.book.contract(e.symbol)
            if (
                e.time >= since
                and (not f.client_id or e.client_id == f.client_id)
                and (not f.account or e.account == f.account)
                and (not f.symbol or f.symbol.upper() in (c.ib_symbol, c.symbol, c.local_symbol))
                and (not f.sec_type or f.sec_type == c.sec_type)
                and (not f.exchange or f.exchange in (e.exchange, c.exchange, "SMART"))
                and (not side or side == e.side)
            ):
                out.append(e)
        return out
