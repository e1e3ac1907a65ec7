"""SimBroker: the BrokerTransport over the seeded market simulator (lib/sim).

Orders reach the simulated exchange after a lognormal latency; the ack
(Submitted) and fills appear as virtual time passes (the simulator steps on
every VirtualClock advance). ``submit_order`` returns PendingSubmit unless the
latency is zero. Synchronous rejects raise BrokerRejected (off-tick limit,
price too far through the market, message rate, outside the session, bad
order); asynchronous ones show as status Rejected with a reason.

Accounting: positions in shares/contracts; cash and NAV in the base currency
(instrument currencies converted at the fixed ``fx_to_base`` rates), marked to
the mid; commissions per lib/sim/fees.py. With ``state_path`` the whole book
(orders, executions, positions, cash, ids, simulator state including RNG
positions) is written atomically as JSON (no fsync: it must survive our process, not
the machine) after every mutating call and every clock advance that changed
an order, and a second SimBroker on the same file resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from lib.brokers.base import TERMINAL_BROKER_STATUSES, BrokerOrderStatus, OrderRequest, OrderUpdate
from lib.clock import Clock, VirtualClock
from lib.errors import (
    BrokerDisconnected,
    BrokerRejected,
    TooLateToCancel,
    UnknownInstrument,
    UnknownOrder,
)
from lib.instruments import InstrumentRegistry, load_instruments
from lib.sim.config import SimConfig
from lib.sim.engine import MarketSimulator
from lib.sim.faults import Faults
from lib.sim.fees import order_commission
from lib.sim.latency import RateLimiter
from lib.sim.matching import SimOrder
from lib.types import Fill, MarketDataSnapshot, OrderType, Side

__all__ = ["SimBroker"]

_STATE_VERSION = 1


class SimBroker:
    """In-process simulated broker implementing :class:`BrokerTransport`."""

    def __init__(
        self,
        clock: Clock,
        config: SimConfig | None = None,
        instruments: InstrumentRegistry | None = None,
        state_path: str | Path | None = None,
        book_id: str | None = None,
    ) -> None:
        self.clock = clock
        self.instruments = instruments if instruments is not None else load_instruments()
        self.state_path = Path(state_path) if state_path is not None else None
        self.fills: list[Fill] = []
        # JSON rows of self.fills, built once per fill (fills are frozen and only
        # appended): re-serialising every fill on every save was 7 of 20 s.
        self._fills_json: list[dict[str, Any]] = []
        self.positions: dict[str, int] = {}
        self._exec_seq = 0
        self._order_seq = 0
        if self.state_path is not None and self.state_path.exists():
            self._load(config)
        else:
            self.config = config if config is not None else SimConfig()
            self.sim = MarketSimulator(self.config, self.instruments, epoch=clock.now())
            self.cash = self.config.start_cash
            self.limiter = RateLimiter(self.config.max_messages_per_s)
            # Exec ids must be unique across separate simulated books (the ledger
            # keys fills on them, as IB's execIds are): a deterministic book id
            # from the start time and the state file name tells books apart.
            # ``book_id`` (e.g. derived from the rebalance id) names an in-memory book.
            tag = f"{clock.now().isoformat()}|{self.state_path.name if self.state_path else ''}"
            self.book_id = book_id or hashlib.sha256(tag.encode()).hexdigest()[:8]
        self.sim.fill_listeners.append(self._on_fill)
        if self.clock.now() < self.sim.time_of(self.sim.now_s):
            raise ValueError(
                f"clock at {self.clock.now().isoformat()} is behind the saved simulator time "
                f"{self.sim.time_of(self.sim.now_s).isoformat()}; start the clock at or after it"
            )
        if isinstance(clock, VirtualClock):
            clock.subscribe(self._on_clock)
        self._sync()
        self._save()

    # ----- plumbing -----
    @property
    def faults(self) -> Faults:
        """Fault switches (see lib/sim/faults.py)."""
        return self.sim.faults

    def _on_clock(self, start: datetime, end: datetime) -> None:
        self.sim.advance_to(self.sim.seconds_of(end))
        if self.sim.changed:
            self._save()

    def _sync(self) -> None:
        """Catch up with a clock that moved without telling us (e.g. SystemClock)."""
        t = self.sim.seconds_of(self.clock.now())
        if t > self.sim.now_s:
            self.sim.advance_to(t)

    def _check_connected(self) -> None:
        if self.sim.faults.disconnected:
            raise BrokerDisconnected("simulated broker disconnected (fault injected)")
        self._sync()

    def _message(self, client_order_id: str) -> None:
        if not self.limiter.allow(self.sim.now_s):
            raise BrokerRejected(client_order_id, f"message rate limit ({self.limiter.max_per_s}/s) exceeded")

    def _order(self, client_order_id: str) -> SimOrder:
        try:
            return self.sim.orders[client_order_id]
        except KeyError:
            raise UnknownOrder(client_order_id) from None

    def _update(self, o: SimOrder) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=o.client_order_id, broker_order_id=o.broker_order_id, status=o.status,
            quantity=o.quantity, filled_quantity=o.filled, avg_fill_price=o.avg_price,
            limit_price=o.limit_price, ts=self.sim.time_of(o.updated_s), reason=o.reason,
        )  # fmt: skip

    def _fx(self, symbol: str) -> float:
        cur = self.instruments[symbol].currency
        if cur == self.config.base_currency:
            return 1.0
        try:
            return self.config.fx_to_base[cur]
        except KeyError:
            raise ValueError(f"no fx_to_base rate for {cur}") from None

    def _on_fill(self, o: SimOrder, n: int, price: float, liquidity: str, t_s: float) -> None:
        inst = self.instruments[o.symbol]
        total = order_commission(inst.asset_class, o.filled, o.notional * inst.multiplier)
        fee = round(total - o.commission, 6)
        o.commission = total
        self._exec_seq += 1
        fill = Fill(
            exec_id=f"SIM{self.config.seed}.{self.book_id}.{self._exec_seq:09d}", client_order_id=o.client_order_id,
            symbol=o.symbol, side=o.side, quantity=n, price=price, ts=self.sim.time_of(t_s),
            commission=fee, liquidity=liquidity,
        )  # fmt: skip
        self.fills.append(fill)
        self.positions[o.symbol] = self.positions.get(o.symbol, 0) + o.sign * n
        fx = self._fx(o.symbol)
        self.cash -= (o.sign * n * price * inst.multiplier + fee) * fx

    def _validate_price(self, coid: str, symbol: str, side: Side, price: float) -> int:
        inst = self.instruments[symbol]
        if not math.isfinite(price) or price <= 0:
            raise BrokerRejected(coid, f"invalid limit price {price!r}")
        if not inst.on_tick(price):
            raise BrokerRejected(coid, f"limit {price} not on the tick grid ({inst.tick_size})")
        snap = self.sim.snapshot(symbol)
        mid = snap.mid if snap.mid is not None else self.sim.mid(symbol)
        through = side.sign * (price - mid) / mid
        if through > self.config.max_price_deviation:
            raise BrokerRejected(
                coid, f"limit {price} is {through:.1%} through the market (max {self.config.max_price_deviation:.0%})"
            )
        return int(round(price / inst.tick_size))

    # ----- BrokerTransport -----
    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        self._check_connected()
        coid = request.client_order_id
        if coid in self.sim.orders:
            return self._update(self.sim.orders[coid])  # idempotent resubmit
        self._message(coid)
        if request.symbol not in self.sim.markets:
            raise BrokerRejected(coid, f"unknown contract {request.symbol!r}")
        if isinstance(request.quantity, bool) or not isinstance(request.quantity, int) or request.quantity <= 0:
            raise BrokerRejected(coid, f"quantity must be a positive integer, got {request.quantity!r}")
        needs_limit = request.order_type in (OrderType.LMT, OrderType.LOC)
        if needs_limit and request.limit_price is None:
            raise BrokerRejected(coid, f"{request.order_type.value} order needs a limit price")
        if not needs_limit and request.limit_price is not None:
            raise BrokerRejected(coid, f"{request.order_type.value} order must not carry a limit price")
        if self.config.enforce_session:
            pos = self.sim.session_position(request.symbol, self.sim.now_s)
            if not 0 <= pos < self.instruments[request.symbol].session_seconds:
                raise BrokerRejected(coid, "outside regular trading hours")
        ticks = None
        if request.limit_price is not None:
            ticks = self._validate_price(coid, request.symbol, request.side, request.limit_price)
        self._order_seq += 1
        o = SimOrder(
            client_order_id=coid, broker_order_id=str(self._order_seq), symbol=request.symbol,
            side=request.side, quantity=request.quantity, order_type=request.order_type,
            limit_price=request.limit_price, limit_ticks=ticks, status=BrokerOrderStatus.PENDING_SUBMIT,
            created_s=self.sim.now_s, updated_s=self.sim.now_s, tif=request.tif,
        )  # fmt: skip
        self.sim.submit(o)
        self._save()
        return self._update(o)

    def cancel_order(self, client_order_id: str) -> OrderUpdate:
        self._check_connected()
        o = self._order(client_order_id)
        if o.status in TERMINAL_BROKER_STATUSES:
            raise TooLateToCancel(client_order_id)
        if o.cancel_inflight:
            return self._update(o)
        self._message(client_order_id)
        self.sim.cancel(client_order_id)
        self._save()
        return self._update(o)

    def modify_order(self, client_order_id: str, limit_price: float, quantity: int | None = None) -> OrderUpdate:
        self._check_connected()
        o = self._order(client_order_id)
        if o.status in TERMINAL_BROKER_STATUSES or o.cancel_inflight:
            raise TooLateToCancel(client_order_id)
        if o.order_type in (OrderType.MKT, OrderType.MOC):
            raise BrokerRejected(client_order_id, f"cannot set a limit on a {o.order_type.value} order")
        qty = o.quantity if quantity is None else quantity
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= o.filled:
            raise BrokerRejected(client_order_id, f"new quantity {qty!r} must exceed the filled {o.filled}")
        self._message(client_order_id)
        ticks = self._validate_price(client_order_id, o.symbol, o.side, limit_price)
        self.sim.modify(client_order_id, ticks, limit_price, qty)
        self._save()
        return self._update(o)

    def get_order_status(self, client_order_id: str) -> OrderUpdate:
        self._check_connected()
        return self._update(self._order(client_order_id))

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        self._check_connected()
        orders = self.sim.orders
        return {c: self._update(orders[c]) for c in client_order_ids if c in orders}

    def get_market_data(self, symbol: str) -> MarketDataSnapshot:
        self._check_connected()
        if symbol not in self.sim.markets:
            raise UnknownInstrument(symbol)
        return self.sim.snapshot(symbol)

    def get_positions(self) -> dict[str, int]:
        self._check_connected()
        return {s: q for s, q in self.positions.items() if q != 0}

    def get_account_nav(self) -> float:
        """Cash plus positions marked to the mid, base currency."""
        self._check_connected()
        nav = self.cash
        for sym, q in self.positions.items():
            if q:
                nav += q * self.sim.mid(sym) * self.instruments[sym].multiplier * self._fx(sym)
        return nav

    def get_open_orders(self) -> list[OrderUpdate]:
        self._check_connected()
        return [self._update(self.sim.orders[c]) for c in self.sim.open_ids]

    def get_executions(self, client_order_id_prefix: str = "") -> list[Fill]:
        self._check_connected()
        return [f for f in self.fills if f.client_order_id.startswith(client_order_id_prefix)]

    # ----- persistence -----
    def _save(self) -> None:
        self.sim.changed = False
        if self.state_path is None:
            return
        state = {
            "version": _STATE_VERSION,
            "config": self.config.model_dump(mode="json"),
            "broker": {
                "cash": self.cash, "positions": self.positions, "exec_seq": self._exec_seq,
                "book_id": self.book_id,
                "order_seq": self._order_seq, "limiter": self.limiter.to_state(),
                "fills": self._fills_json_rows(),
            },  # fmt: skip
            "sim": self.sim.to_state(),
        }
        # json.dumps runs the C encoder; json.dump streams through the pure-Python
        # one (10x slower, 16 of a 50 s demo). No fsync: the file models a broker
        # that outlives *our process* (kill -9 included, the page cache survives
        # it); os.replace keeps the write atomic. Power loss is not simulated.
        text = json.dumps(state, separators=(",", ":"))
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _fills_json_rows(self) -> list[dict[str, Any]]:
        for f in self.fills[len(self._fills_json):]:
            self._fills_json.append(_fill_to_json(f))
        return self._fills_json

    def _load(self, config: SimConfig | None) -> None:
        assert self.state_path is not None
        st = json.loads(self.state_path.read_text(encoding="utf-8"))
        if st.get("version") != _STATE_VERSION:
            raise ValueError(f"{self.state_path}: unsupported state version {st.get('version')!r}")
        self.config = SimConfig.model_validate(st["config"])
        if config is not None and config != self.config:
            raise ValueError(f"{self.state_path}: holds a different SimConfig than the one passed")
        self.sim = MarketSimulator(self.config, self.instruments, epoch=datetime.fromisoformat(st["sim"]["epoch"]))
        self.sim.load_state(st["sim"])
        b = st["broker"]
        self.cash = float(b["cash"])
        self.positions = {s: int(q) for s, q in b["positions"].items()}
        self._exec_seq, self._order_seq = int(b["exec_seq"]), int(b["order_seq"])
        self.book_id = str(b["book_id"])
        self.limiter = RateLimiter(self.config.max_messages_per_s)
        self.limiter.load_state(b["limiter"])
        self.fills = [_fill_from_json(d) for d in b["fills"]]
        self._fills_json = [_fill_to_json(f) for f in self.fills]


def _fill_to_json(f: Fill) -> dict[str, Any]:
    d = {fl.name: getattr(f, fl.name) for fl in fields(f)}  # flat: no deepcopy as asdict
    d["side"] = f.side.value
    d["ts"] = f.ts.isoformat()
    return d


def _fill_from_json(d: dict[str, Any]) -> Fill:
    kw = dict(d)
    kw["side"] = Side(kw["side"])
    kw["ts"] = datetime.fromisoformat(kw["ts"])
    return Fill(**kw)
