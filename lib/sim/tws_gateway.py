"""A simulated IB Gateway: the TWS API wire protocol over the project's market simulator.

Architecture (one asyncio event loop, on its own thread with
:func:`run_gateway_thread` or in the foreground with ``afx gateway``)::

    client (ib_async) --TCP--> tws.session.Session    one per connection: framing, handshake
                                   |                   (server version min(client max, 178)),
                                   v                   startApi, request parsers (tws.decode)
                               tws.server.GatewayServer   routing of order events to the
                                   |                      connection of the order's clientId,
                                   v                      delayed/held messages, faults
                               tws.book.GatewayBook    IB's view of orders (permId, orderId,
                                   |                   clientId, orderRef), IB's checks
                                   v                   (tws.rules) and error codes
                     lib.brokers.sim.SimBroker (one per account) over lib.sim's MarketSimulator
                                   ^
                     lib.clock.VirtualClock  <-- tws.pacing.Pacer (the only wall-clock reader:
                                                 the loop's clock paces virtual time, at ``speed``
                                                 virtual s per wall s, or 1:1 in wall mode)

Server messages are built by tws.encode field for field as ib_async 2.1.0's
decoder reads them. A client follows the gateway's (virtual) time through
``reqCurrentTime``. The gateway never imports ib_async.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lib.brokers.sim import SimBroker
from lib.calendars import get_market_calendar
from lib.clock import Clock, SystemClock, VirtualClock
from lib.instruments import load_instruments
from lib.runtime import default_sim_start, project_path
from lib.sim.presets import demo_config
from lib.sim.tws.book import GatewayBook
from lib.sim.tws.contracts import ContractBook
from lib.sim.tws.faults import GatewayFaults
from lib.sim.tws.model import GatewayExecution, GatewayOrder
from lib.sim.tws.pacing import Pacer
from lib.sim.tws.server import GatewayServer

__all__ = ["GatewayConfig", "GatewayHandle", "GatewayExecution", "OpenOrderView", "TwsGateway", "run_gateway_thread"]

T = TypeVar("T")
_NY = ZoneInfo("America/New_York")


class GatewayConfig(BaseModel):
    """Settings of one simulated gateway. ``speed``: virtual seconds per wall
    second (virtual mode); ``sim_start``: tz-aware start of the session (default:
    the next regular NYSE session at 10:30 New York; in wall mode, now);
    ``nav_usd``: starting cash of each account in USD."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 4002
    accounts: Annotated[tuple[str, ...], Field(min_length=1)] = ("DU1234567",)
    seed: int = 7
    time_mode: Literal["virtual", "wall"] = "virtual"
    speed: Annotated[float, Field(gt=0, le=10_000)] = 20.0
    sim_start: datetime | None = None
    instruments_file: str = "config/instruments.yaml"
    nav_usd: Annotated[float, Field(gt=0)] = 10_000_000.0

    @field_validator("sim_start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("sim_start must be timezone-aware")
        return v


@dataclass(frozen=True, slots=True)
class OpenOrderView:
    """A working order as the gateway holds it."""

    order_id: int
    client_id: int
    order_ref: str
    perm_id: int
    account: str
    symbol: str
    status: str
    filled: int
    remaining: int
    lmt_price: float | None
    total_quantity: int
    algo_strategy: str = ""
    algo_params: tuple[tuple[str, str], ...] = ()


class TwsGateway:
    """The gateway on the current event loop: ``await start()``, ``await stop()``."""

    def __init__(self, cfg: GatewayConfig, wall_clock: Clock | None = None) -> None:
        """``wall_clock`` (default the system clock) only picks the session start."""
        self.cfg = cfg
        registry = load_instruments(project_path(cfg.instruments_file))
        wall = (wall_clock if wall_clock is not None else SystemClock()).now()
        if cfg.sim_start is not None:
            start = cfg.sim_start
        else:
            start = default_sim_start(wall) if cfg.time_mode == "virtual" else wall
        self.clock = VirtualClock(start)
        self.session_start = self.clock.now()
        session = get_market_calendar("NYSE").session(start.astimezone(_NY).date())
        offset = max(0.0, (start - session[0]).total_seconds()) if session is not None else 0.0
        sim_cfg = demo_config(cfg.seed, symbols=tuple(registry), session_offset_s=offset, start_cash=cfg.nav_usd)
        brokers = {
            a: SimBroker(self.clock, sim_cfg, registry, book_id=hashlib.sha256(a.encode()).hexdigest()[:8])
            for a in cfg.accounts
        }
        contracts = ContractBook(registry, start.astimezone(_NY).date())
        book = GatewayBook(self.clock, brokers, registry, contracts, sim_cfg.max_price_deviation)
        self.server = GatewayServer(book, cfg.accounts)
        self.pacer = Pacer(self.clock, cfg.speed if cfg.time_mode == "virtual" else 1.0)
        self.port = cfg.port
        self._tcp: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._tcp = await asyncio.start_server(self.server.handle, self.cfg.host, self.cfg.port)
        self.port = int(self._tcp.sockets[0].getsockname()[1])
        self._task = asyncio.get_running_loop().create_task(self.pacer.run(self.server.step))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._tcp is not None:
            self._tcp.close()
        self.server.drop_all()
        if self._tcp is not None:
            await self._tcp.wait_closed()

    def describe(self) -> str:
        mode = f"virtual time x{self.cfg.speed:g}" if self.cfg.time_mode == "virtual" else "wall-clock time"
        when = self.session_start.astimezone(_NY)
        return (f"afx gateway: listening on {self.cfg.host}:{self.port} ({mode}, session "
                f"{when:%Y-%m-%d %H:%M} America/New_York, account {','.join(self.cfg.accounts)})")  # fmt: skip


class GatewayHandle:
    """A running gateway seen from another thread (every call runs on its loop)."""

    def __init__(self, gw: TwsGateway, loop: asyncio.AbstractEventLoop) -> None:
        self._gw = gw
        self._loop = loop
        self.port = gw.port
        self.faults = GatewayFaults(gw.server, self._call)

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def server_time(self) -> datetime:
        """The gateway's (virtual or wall) time, tz-aware UTC."""
        return self._call(self._gw.clock.now)

    def executions(self) -> list[GatewayExecution]:
        return self._call(lambda: list(self._gw.server.book.executions))

    def positions(self, account: str | None = None) -> dict[str, int]:
        acct = account or self._gw.cfg.accounts[0]
        return self._call(lambda: self._gw.server.book.positions(acct))

    def open_orders(self) -> list[OpenOrderView]:
        return self._call(lambda: [_view(o) for o in self._gw.server.book.orders.values() if not o.is_done])

    def orders(self) -> list[OpenOrderView]:
        """Every order the gateway has seen, working or done (newest last)."""
        return self._call(lambda: [_view(o) for o in self._gw.server.book.orders.values()])

    def describe(self) -> str:
        return self._gw.describe()


def _view(o: GatewayOrder) -> OpenOrderView:
    return OpenOrderView(o.order_id, o.client_id, o.order_ref, o.perm_id, o.account, o.contract.symbol, o.status,
                         o.filled, o.remaining, o.lmt_price, o.total_quantity, o.algo_strategy,
                         tuple(o.algo_params))  # fmt: skip


@contextmanager
def run_gateway_thread(cfg: GatewayConfig) -> Iterator[GatewayHandle]:
    """Run a gateway on its own thread and event loop; yields once it listens."""
    gw = TwsGateway(cfg)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(gw.start())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(gw.stop())
        loop.close()

    thread = threading.Thread(target=main, name="tws-gateway", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise failure[0]
    try:
        yield GatewayHandle(gw, loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
