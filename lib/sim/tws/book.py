"""The gateway's order book over the project's simulator.

One :class:`~lib.brokers.sim.SimBroker` per managed account, all on one
VirtualClock (the gateway advances it). Orders are keyed by permId (global)
and by (clientId, orderId) as IB keys them; the SimBroker key is
``orderRef`` when given (unique per account) else ``ib-<permId>``.
:meth:`GatewayBook.collect` turns what the simulator did since the last call
into events (executions, status changes) for the gateway to route.
Algo orders: Adaptive goes to the SimBroker as its limit order; Twap and Vwap
parents are worked by :class:`~lib.sim.tws.algos.AlgoDesk` through child
orders whose fills are the parent's executions (see lib.sim.tws.algos).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lib.brokers.base import BrokerOrderStatus, OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.errors import BrokerError, BrokerRejected
from lib.instruments import InstrumentRegistry
from lib.sim.tws import rules
from lib.sim.tws.algos import AlgoDesk, AlgoSpec, parse_algo
from lib.sim.tws.contracts import ContractBook, IbContract
from lib.sim.tws.decode import PlaceOrder
from lib.sim.tws.model import GatewayExecution, GatewayOrder
from lib.sim.tws.rules import Refusal
from lib.types import OrderType, Side

__all__ = ["BookEvent", "GatewayBook"]

_IB_STATUS = {
    BrokerOrderStatus.PENDING_SUBMIT: "PendingSubmit",
    BrokerOrderStatus.SUBMITTED: "Submitted",
    BrokerOrderStatus.PARTIALLY_FILLED: "Submitted",
    BrokerOrderStatus.PENDING_CANCEL: "PendingCancel",
    BrokerOrderStatus.FILLED: "Filled",
    BrokerOrderStatus.CANCELLED: "Cancelled",
    BrokerOrderStatus.REJECTED: "Inactive",
    BrokerOrderStatus.INACTIVE: "Inactive",
}


@dataclass(frozen=True, slots=True)
class BookEvent:
    """``kind``: "exec" (execution set), "status" (open_order says whether the
    openOrder should be resent), "error" (code/message about the order)."""

    kind: str
    order: GatewayOrder
    execution: GatewayExecution | None = None
    open_order: bool = False
    code: int = 0
    message: str = ""


class GatewayBook:
    """Orders, executions and positions of every managed account."""

    def __init__(self, clock: VirtualClock, brokers: dict[str, SimBroker], registry: InstrumentRegistry,
                 contracts: ContractBook, max_through: float) -> None:  # fmt: skip
        self.clock = clock
        self.brokers = brokers
        self.registry = registry
        self.contracts = contracts
        self.max_through = max_through
        self.orders: dict[int, GatewayOrder] = {}  # permId -> order
        self.by_client: dict[tuple[int, int], int] = {}  # (clientId, orderId) -> permId
        self.by_coid: dict[tuple[str, str], int] = {}  # (account, coid) -> permId
        self.max_order_id: dict[int, int] = {}  # clientId -> highest order id used
        self.executions: list[GatewayExecution] = []
        self.avg_cost: dict[tuple[str, str], float] = {}  # (account, symbol) -> cost per unit incl. multiplier
        self._fill_seen = {a: 0 for a in brokers}
        self._pos: dict[tuple[str, str], int] = {}
        self._next_perm = 1_000_000_001 + int(clock.now().timestamp()) % 1_000_000 * 1000
        self.algos = AlgoDesk(brokers, registry.__getitem__, self._register_child)

    def _register_child(self, account: str, key: str, perm_id: int) -> None:
        self.by_coid[(account, key)] = perm_id

    # ----- ids -----
    def next_valid_id(self, client_id: int) -> int:
        return self.max_order_id.get(client_id, 0) + 1

    def now(self) -> datetime:
        return self.clock.now()

    def find(self, client_id: int, order_id: int) -> GatewayOrder | None:
        perm = self.by_client.get((client_id, order_id))
        return self.orders.get(perm) if perm is not None else None

    # ----- orders -----
    def place(self, client_id: int, req: PlaceOrder, account: str, forced: Refusal | None = None) -> list[BookEvent] | Refusal:
        """A new order: events, or a Refusal with IB's code when no order was
        created (duplicate id, unknown contract). ``forced`` refuses it anyway
        (fault injection). Modifies go to :meth:`modify`."""
        if req.order_id <= self.max_order_id.get(client_id, 0):
            return Refusal(103, f"Duplicate order id {req.order_id}")
        matches = self.contracts.match(req.contract)
        if len(matches) != 1:
            return Refusal(200, "No security definition has been found for the request")
        c = matches[0]
        inst = self.registry[c.symbol]
        refusal = forced or rules.check_shape(req.action, req.total_quantity, req.order_type, req.lmt_price, req.tif or "DAY")
        refusal = refusal or rules.check_auction(inst, req.order_type, self.now(), entry=True)
        broker = self.brokers[account]
        side = Side(req.action) if req.action in ("BUY", "SELL") else Side.BUY
        if refusal is None and req.lmt_price is not None and req.order_type in ("LMT", "LOC"):
            refusal = rules.check_price(inst, side.sign, req.lmt_price, broker.sim.mid(c.symbol), self.max_through)
        algo: AlgoSpec | Refusal | None = None
        if refusal is None:
            algo = parse_algo(req.algo_strategy, req.algo_params, req.order_type, self.now())
            if isinstance(algo, Refusal):
                refusal = algo
        self.max_order_id[client_id] = req.order_id
        perm = self._next_perm
        self._next_perm += 1
        coid = req.order_ref if req.order_ref and (account, req.order_ref) not in self.by_coid else f"ib-{perm}"
        o = GatewayOrder(
            order_id=req.order_id, client_id=client_id, perm_id=perm, account=account, contract=c,
            action=req.action, total_quantity=int(req.total_quantity), order_type=req.order_type,
            lmt_price=req.lmt_price if req.order_type in ("LMT", "LOC") else None, tif=req.tif or "DAY",
            order_ref=req.order_ref, outside_rth=req.outside_rth, coid=coid, algo_strategy=req.algo_strategy,
            algo_params=list(req.algo_params),
        )  # fmt: skip
        self.orders[perm] = o
        self.by_client[(client_id, req.order_id)] = perm
        self.by_coid[(account, coid)] = perm
        if refusal is not None:
            return self.refuse(o, refusal)
        if isinstance(algo, AlgoSpec) and algo.worked:
            self.algos.start(o, algo)
            return self._status_events(o)
        try:
            broker.submit_order(OrderRequest(
                client_order_id=coid, symbol=c.symbol, side=side, quantity=o.total_quantity,
                order_type=OrderType(o.order_type), limit_price=o.lmt_price, tif=o.tif, outside_rth=o.outside_rth,
            ))  # fmt: skip
        except BrokerRejected as exc:
            return self.refuse(o, Refusal(201, f"Order rejected - reason:{exc.reason}"))
        return self._status_events(o)

    def refuse(self, o: GatewayOrder, refusal: Refusal) -> list[BookEvent]:
        """Mark a new order dead with IB's error (202 -> Cancelled, else Inactive)."""
        o.status = "Cancelled" if refusal.code == 202 else "Inactive"
        self._complete(o)
        return [BookEvent("error", o, code=refusal.code, message=refusal.message), BookEvent("status", o)]

    def modify(self, o: GatewayOrder, req: PlaceOrder) -> list[BookEvent]:
        """The same orderId re-placed: new limit and/or quantity."""
        inst = self.registry[o.contract.symbol]
        if o.is_done:
            state = o.status
            if state == "Filled":
                return [BookEvent("error", o, code=104, message="Can't modify a filled order.")]
            return [BookEvent("error", o, code=103, message=f"Duplicate order id {o.order_id}")]
        refusal = rules.check_auction(inst, o.order_type, self.now(), entry=False)
        qty = int(req.total_quantity)
        lmt = req.lmt_price if req.lmt_price is not None else o.lmt_price
        if refusal is None and lmt is not None:
            refusal = rules.check_price(inst, 1 if o.action == "BUY" else -1, lmt,
                                        self.brokers[o.account].sim.mid(o.contract.symbol), self.max_through)  # fmt: skip
        if refusal is None and o.order_type in ("MKT", "MOC"):
            refusal = Refusal(201, f"Order rejected - reason:cannot set a limit on a {o.order_type} order")
        if refusal is not None:
            return [BookEvent("error", o, code=refusal.code, message=refusal.message)]
        assert lmt is not None
        work = self.algos.get(o.perm_id)
        if work is not None:
            if qty <= o.filled:
                return [BookEvent("error", o, code=201,
                                  message=f"Order rejected - reason:new quantity {qty} must exceed the filled {o.filled}")]  # fmt: skip
            o.lmt_price, o.total_quantity = lmt, qty
            self.algos.modified(work)
            return [BookEvent("status", o, open_order=True)]
        try:
            self.brokers[o.account].modify_order(o.coid, lmt, qty)
        except BrokerError as exc:
            return [BookEvent("error", o, code=201, message=f"Order rejected - reason:{exc}")]
        o.lmt_price, o.total_quantity = lmt, qty
        return [BookEvent("status", o, open_order=True)]

    def cancel(self, o: GatewayOrder) -> list[BookEvent]:
        if o.is_done:
            return [BookEvent("error", o, code=10148,
                              message=f"OrderId {o.order_id} that needs to be cancelled cannot be cancelled, "
                                      f"state: {o.status}.")]  # fmt: skip
        refusal = rules.check_auction(self.registry[o.contract.symbol], o.order_type, self.now(), entry=False)
        if refusal is not None:
            return [BookEvent("error", o, code=refusal.code, message=refusal.message)]
        work = self.algos.get(o.perm_id)
        if work is not None:
            self.algos.cancel(work)
            return self._status_events(o)
        try:
            self.brokers[o.account].cancel_order(o.coid)
        except BrokerError as exc:
            return [BookEvent("error", o, code=10148, message=f"Order cannot be cancelled: {exc}")]
        return self._status_events(o)

    # ----- the simulator's side -----
    def collect(self) -> list[BookEvent]:
        """Executions and status changes since the last call, in time order per order."""
        events: list[BookEvent] = []
        self.algos.step(self.now())
        for account, broker in self.brokers.items():
            fills = broker.fills[self._fill_seen[account] :]
            self._fill_seen[account] = len(broker.fills)
            cum: dict[int, tuple[int, float]] = {}
            for f in fills:
                perm = self.by_coid.get((account, f.client_order_id))
                if perm is None:
                    continue
                o = self.orders[perm]
                q0, n0 = cum.get(perm, (o.filled, o.avg_fill_price * o.filled))
                q1, n1 = q0 + f.quantity, n0 + f.price * f.quantity
                cum[perm] = (q1, n1)
                inst = self.registry[f.symbol]
                self._mark_cost(account, f.symbol, f.side.sign * f.quantity, f.price * inst.multiplier)
                e = GatewayExecution(
                    exec_id=f"{f.exec_id}.01", perm_id=perm, order_id=o.order_id, client_id=o.client_id,
                    order_ref=o.order_ref, account=account, symbol=f.symbol, side="BOT" if f.side is Side.BUY else "SLD",
                    shares=f.quantity, price=f.price, time=f.ts, commission=f.commission, currency=inst.currency,
                    cum_qty=q1, avg_price=round(n1 / q1, 10), liquidity=1 if f.liquidity == "add" else 2,
                    exchange=o.contract.primary_exchange or o.contract.exchange,
                )  # fmt: skip
                self.executions.append(e)
                o.last_fill_price = f.price
                events.append(BookEvent("exec", o, execution=e))
        for o in self.orders.values():
            if not o.is_done or o.filled != self._sim_filled(o):
                events += self._status_events(o)
        return events

    def _view(self, o: GatewayOrder) -> tuple[str, int, float, str] | None:
        """(IB status, filled, average price, reason) as the simulator has it."""
        work = self.algos.get(o.perm_id)
        if work is not None:
            return self.algos.view(work, self.now())
        so = self.brokers[o.account].sim.orders.get(o.coid)
        return None if so is None else (_IB_STATUS[so.status], so.filled, so.avg_price, so.reason or "")

    def _sim_filled(self, o: GatewayOrder) -> int:
        view = self._view(o)
        return view[1] if view is not None else o.filled

    def _status_events(self, o: GatewayOrder) -> list[BookEvent]:
        view = self._view(o)
        if view is None:
            return []
        status, filled, avg, reason = view
        if status == o.status and filled == o.filled:
            return []
        changed = status != o.status
        o.status, o.filled, o.avg_fill_price = status, filled, avg
        out = [BookEvent("status", o, open_order=changed and status != "PendingCancel")]
        if o.is_done:
            self._complete(o)
            if status == "Cancelled":
                out.insert(0, BookEvent("error", o, code=202, message="Order Canceled - reason:"))
            elif status == "Inactive":
                out.insert(0, BookEvent("error", o, code=201, message=f"Order rejected - reason:{reason}"))
        return out

    def _complete(self, o: GatewayOrder) -> None:
        from lib.sim.tws.encode import ib_time

        o.completed_time = ib_time(self.now())
        o.completed_status = o.status

    def _mark_cost(self, account: str, symbol: str, dq: int, unit_cost: float) -> None:
        key = (account, symbol)
        q0 = self._pos.get(key, 0)
        c0 = self.avg_cost.get(key, 0.0)
        q1 = q0 + dq
        self._pos[key] = q1
        if q1 == 0:
            self.avg_cost[key] = 0.0
        elif q0 == 0 or (q0 > 0) != (q1 > 0):
            self.avg_cost[key] = unit_cost
        elif abs(q1) > abs(q0):
            self.avg_cost[key] = (c0 * abs(q0) + unit_cost * abs(dq)) / abs(q1)

    # ----- account views -----
    def positions(self, account: str) -> dict[str, int]:
        return {s: q for s, q in self.brokers[account].positions.items() if q}

    def contract(self, symbol: str) -> IbContract:
        return self.contracts.by_symbol[symbol]
