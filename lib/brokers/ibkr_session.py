"""IbSession: one ib_async connection hosted for a synchronous caller, kept
usable across drops; the base of :class:`lib.brokers.ibkr.IBKRTransport`.

Hosting: ONE event loop on ONE dedicated thread per transport owns ONE
``ib_async.IB``; the synchronous BrokerTransport methods hand coroutines to it
with ``asyncio.run_coroutine_threadsafe`` and wait at most
``request_timeout_seconds`` (then BrokerTimeout). The sync ib_async API is
never used; nothing touches the IB object from another thread.

State lives in :class:`OrderBook` (IB's wire status per orderRef, surviving
reconnects) and :class:`ExecutionBook` (executions deduped by execId,
corrections replace, commissions latest-wins), fed here by ib_async's events.
Orders, cancels and modifies pass a token bucket (<= 45/s, :meth:`_pace`).

Disconnects: error 1100/2110 or a dropped socket marks the session uncertain:
nothing is sent, and every call waits (up to the request timeout) for the
reconnect, then raises BrokerDisconnected. Reconnects back off per settings
(326 "client id in use" included). On 1101/1102 or a new connection the
session re-reads open orders, completed orders, executions and positions and
reconciles them into its books (orderRef, then permId, then execId) before
anything is sent again; an order IB never received is closed as Cancelled.
Contracts are qualified here once per symbol (cached).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import ib_async
from ib_async import IB, Contract, ExecutionFilter, Trade

from lib.brokers.ibkr_codes import ErrorKind, classify_error
from lib.brokers.ibkr_config import IBKRConfig
from lib.brokers.ibkr_contracts import contract_spec
from lib.brokers.ibkr_loop import LoopThread
from lib.brokers.ibkr_sync import IbState
from lib.brokers.ibkr_timing import ServerClock, TokenBucket
from lib.clock import Clock, SystemClock
from lib.errors import (
    BrokerDisconnected,
    BrokerError,
    BrokerRejected,
    BrokerTimeout,
    UnknownInstrument,
)
from lib.instruments import InstrumentRegistry

__all__ = ["IbSession"]

log = logging.getLogger("lib.brokers.ibkr")
T = TypeVar("T")
_OWN_CANCEL = re.compile(r"^Error 202, reqId (\d+): Order Cancell?ed")


class IbSession:
    """The connection, its events, reconciliation and contracts (see module doc)."""

    def __init__(
        self,
        cfg: IBKRConfig,
        registry: InstrumentRegistry,
        *,
        local_clock: Clock | None = None,
        session_date: date | None = None,
        connect: bool = True,
    ) -> None:
        self.cfg = cfg
        self.registry = registry
        self._local = local_clock or SystemClock()
        self.state = IbState(registry, cfg.account, self._now)
        self.book, self.execs = self.state.book, self.state.execs
        self._contracts: dict[str, Contract] = {}
        self._md_errors: dict[int, tuple[int, str]] = {}
        self._ready = False  # connected, synced, reconciled
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.errors: list[tuple[int, int, str]] = []  # (reqId, code, message) as IB sent them
        self._host = LoopThread("ibkr-loop")
        self._loop = self._host.loop
        self._ib: IB = self._run(self._make_ib(), timeout=cfg.request_timeout_seconds)
        self._bucket = TokenBucket(cfg.max_messages_per_second, 1.0, self._loop.time)
        self.clock: Clock | ServerClock = (
            ServerClock(self._clock_sample, self._local) if cfg.clock == "server" else self._local
        )
        self._session_date = session_date
        if connect:
            self.connect()

    # ------------------------------------------------------------------ loop plumbing
    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._host.run(coro, self.cfg.request_timeout_seconds if timeout is None else timeout)

    async def _make_ib(self) -> IB:
        ib = IB()
        ib.RequestTimeout = self.cfg.request_timeout_seconds
        ib.orderStatusEvent += self._on_order_status
        ib.openOrderEvent += self._on_open_order
        ib.execDetailsEvent += self._on_exec
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        orig = ib.wrapper.commissionReport

        def commission_hook(report: Any) -> None:  # sees reports ib_async would drop
            self.execs.add_commission(report.execId, report.commission)
            orig(report)

        ib.wrapper.commissionReport = commission_hook  # type: ignore[method-assign,assignment]
        logging.getLogger("ib_async.wrapper").addFilter(self._quiet_own_cancels)
        return ib

    def _quiet_own_cancels(self, record: logging.LogRecord) -> bool:
        """IB confirms every cancel with error 202, which ib_async logs as an ERROR
        (and the trade as a WARNING): for a cancel we asked for, that is INFO."""
        msg = record.getMessage()
        m = _OWN_CANCEL.match(msg)
        ours = bool(m) and (o := self.book.find(order_id=int(m.group(1)))) is not None and (  # type: ignore[union-attr]
            o.ib_status in ("PendingCancel", "Cancelled")
        )
        if ours or (msg.startswith("Canceled order:") and "errorCode=202" in msg and "'PendingCancel'" in msg):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True

    def _now(self) -> datetime:
        """Timestamps on the loop thread: the local clock, or the server clock's estimate."""
        return self.clock.peek() if isinstance(self.clock, ServerClock) else self._local.now()

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        """Connect (with backoff) and reconcile; raises BrokerDisconnected on failure."""
        per_attempt = self.cfg.connect_timeout_seconds + 4 * self.cfg.request_timeout_seconds
        self._run(self._connect_with_backoff(), timeout=self.cfg.reconnect.budget_seconds(per_attempt))

    async def _connect_with_backoff(self) -> None:
        r = self.cfg.reconnect
        wait = r.initial_seconds
        last: BaseException | None = None
        for attempt in range(r.attempts):
            if self._closing:
                break
            try:
                await self._ib.connectAsync(
                    self.cfg.host, self.cfg.port, clientId=self.cfg.client_id,
                    timeout=self.cfg.connect_timeout_seconds, readonly=self.cfg.read_only,
                    account=self.cfg.account, raiseSyncErrors=True,
                )  # fmt: skip
                self._ib.reqMarketDataType(self.cfg.market_data_type_code)
                if isinstance(self.clock, ServerClock):
                    t = await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), self.cfg.request_timeout_seconds)
                    self.clock.observe(t.astimezone(UTC))
                await self._reconcile()
                self._ready = True
                log.info("IB connected to %s:%s as client %s", self.cfg.host, self.cfg.port, self.cfg.client_id)
                return
            except (TimeoutError, ConnectionError, OSError, BrokerError) as exc:
                last = exc
                log.warning("IB connect attempt %d failed: %r; retrying in %.1f s", attempt + 1, exc, wait)
                if self._ib.isConnected():
                    self._ib.disconnect()
                await asyncio.sleep(wait)
                wait = min(wait * 2, r.max_seconds)
        raise BrokerDisconnected(
            f"cannot connect to IB at {self.cfg.host}:{self.cfg.port} (client id {self.cfg.client_id}) "
            f"after {r.attempts} attempts: {last!r}"
        )

    def _on_disconnected(self) -> None:
        self._ready = False
        if self._closing:
            return
        log.warning("IB socket dropped: session uncertain, reconnecting")
        self._start_recovery(reconnect=True)

    def _start_recovery(self, *, reconnect: bool) -> None:
        if self._reconnecting is not None and not self._reconnecting.done():
            return
        self._reconnecting = self._loop.create_task(self._recover(reconnect))

    async def _recover(self, reconnect: bool) -> None:
        try:
            if reconnect:
                self.reconnects += 1
                await asyncio.sleep(self.cfg.reconnect.initial_seconds)
                await self._connect_with_backoff()
            else:
                await self._reconcile()
                self._ready = True
        except BrokerError as exc:
            log.error("IB recovery failed: %s", exc)

    async def _await_ready(self) -> None:
        """Wait (bounded by the caller's timeout) until the session is usable."""
        while not self._ready:
            if self._closing:
                raise BrokerDisconnected("IB transport closed")
            if not self._ib.isConnected() and (self._reconnecting is None or self._reconnecting.done()):
                self._start_recovery(reconnect=True)
            await asyncio.sleep(0.05)

    async def _ready_then(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            await asyncio.wait_for(self._await_ready(), self.cfg.request_timeout_seconds * 0.8)
        except TimeoutError:
            raise BrokerDisconnected("IB session uncertain (disconnected or reconciling); nothing sent") from None
        try:
            return await fn()
        except ConnectionError as exc:
            self._ready = False
            raise BrokerDisconnected(f"IB connection lost: {exc}") from exc
        except TimeoutError:
            raise BrokerTimeout("IB request timed out") from None

    def close(self) -> None:
        """Disconnect and stop the loop thread (idempotent)."""
        if self._closing:
            return
        self._closing = True

        async def _stop() -> None:
            if self._ib.isConnected():
                self._ib.disconnect()

        logging.getLogger("ib_async.wrapper").removeFilter(self._quiet_own_cancels)
        try:
            self._run(_stop(), timeout=5.0)
        finally:
            self._host.stop()

    # ------------------------------------------------------------------ IB events (loop thread)
    def _on_order_status(self, trade: Trade) -> None:
        self.state.on_order_status(trade)

    def _on_open_order(self, trade: Trade) -> None:
        self.state.on_open_order(trade)

    def _on_exec(self, trade: Trade, fill: Any) -> None:
        self.state.record_execution(fill)

    def _on_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        self.errors.append((req_id, code, message))
        o = self.book.find(order_id=req_id) if req_id > 0 else None
        kind = self.book.on_error(o, code, message, self._now()) if o else classify_error(code, order_related=False)
        if kind is ErrorKind.CONNECTIVITY_LOST:
            log.warning("IB %d: %s: session uncertain", code, message)
            self._ready = False
        elif kind is ErrorKind.CONNECTIVITY_RESTORED:
            log.warning("IB %d: %s: reconciling before sending anything", code, message)
            self._ready = False
            self._start_recovery(reconnect=False)
        elif kind is ErrorKind.NO_MARKET_DATA and contract is not None:
            self._md_errors[contract.conId] = (code, message)

    # ------------------------------------------------------------------ reconciliation
    async def _reconcile(self) -> None:
        """Re-read IB's orders, executions and positions into the books."""
        ib, wait = self._ib, self.cfg.request_timeout_seconds
        open_trades = await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), wait)
        completed: list[Trade] = []
        if not self.cfg.read_only:
            completed = await asyncio.wait_for(ib.reqCompletedOrdersAsync(True), wait)
        fills = await asyncio.wait_for(ib.reqExecutionsAsync(self._exec_filter()), wait)
        positions = await asyncio.wait_for(ib.reqPositionsAsync(), wait)
        self.state.reconcile(open_trades, completed, fills, positions)

    def _exec_filter(self) -> ExecutionFilter:
        return ExecutionFilter(acctCode=self.cfg.account) if self.cfg.account else ExecutionFilter()

    async def _confirm_provisional(self) -> None:
        """Confirm error-driven cancels against openOrders / completedOrders."""
        if self.book.needs_confirmation():
            open_trades = await self._ib.reqAllOpenOrdersAsync()
            self.state.confirm(open_trades, await self._ib.reqCompletedOrdersAsync(True))

    # ------------------------------------------------------------------ contracts
    async def _qualify(self, symbol: str) -> Contract:
        if symbol in self._contracts:
            return self._contracts[symbol]
        if symbol not in self.registry:
            raise UnknownInstrument(symbol)
        spec = contract_spec(self.registry[symbol], self._session_date or self._now().date())
        c = Contract(
            secType=spec.sec_type, symbol=spec.symbol, exchange=spec.exchange, currency=spec.currency,
            primaryExchange=spec.primary_exchange, multiplier=spec.multiplier, localSymbol=spec.local_symbol,
            lastTradeDateOrContractMonth=spec.last_trade_date_or_contract_month, tradingClass=spec.trading_class,
        )  # fmt: skip
        res = await self._ib.qualifyContractsAsync(c)
        if not res or not isinstance(res[0], Contract) or not res[0].conId:
            raise BrokerRejected(symbol, f"IB could not qualify the contract for {symbol} ({spec})")
        self._contracts[symbol] = res[0]
        self.state.symbol_by_con[res[0].conId] = symbol
        return res[0]

    async def _pace(self) -> None:
        wait = self._bucket.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def server_time(self) -> datetime:
        """The gateway's time (reqCurrentTime), tz-aware UTC."""

        async def go() -> datetime:
            t = await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), self.cfg.request_timeout_seconds)
            return t.astimezone(UTC)

        return self._run(self._ready_then(go))

    def _clock_sample(self) -> datetime:
        """The ServerClock's sample: fails fast while the session is down (the
        clock then interpolates) instead of waiting for the reconnect."""
        if not self._ready:
            raise BrokerDisconnected("IB session down: no server time sample")
        return self.server_time()

    @property
    def connected(self) -> bool:
        return self._ready

    @property
    def ib_version(self) -> str:
        return str(ib_async.__version__)
