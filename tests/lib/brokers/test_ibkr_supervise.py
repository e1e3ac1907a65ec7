"""Supervision (reconcile, OrderManager, slicing) through IBKRTransport against
the simulated gateway, also with a socket drop and with 1100/1102 mid-supervision:
every order terminal, nothing left working, executions equal the gateway's,
positions equal the gateway's, no order sent twice."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from lib.brokers.ibkr import IBKRTransport
from lib.config import ExecutionConfig
from lib.instruments import InstrumentRegistry
from lib.orders.states import TERMINAL, OrderState
from lib.policy import ExecutionPolicy
from lib.sim.tws_gateway import GatewayHandle
from lib.supervisor import supervise
from lib.types import OrderIntent, Side
from tests.lib.brokers.ibkr_support import IbLogGuard

INTENTS = (("SPY", Side.BUY, 2000), ("TLT", Side.SELL, 1000), ("QQQ", Side.BUY, 600), ("ES", Side.BUY, 2))


def run(t: IBKRTransport, gw: GatewayHandle, cfg: ExecutionConfig, reg: InstrumentRegistry, rid: str,
        hook: object = None) -> None:  # fmt: skip
    policy = ExecutionPolicy(cfg, reg, t.clock)
    plans = [
        policy.create_plan(OrderIntent(f"{rid}:{s}", s, side, q), t.get_market_data(s)) for s, side, q in INTENTS
    ]
    report = supervise(
        plans, transport=t, clock=t.clock, config=cfg, rebalance_id=rid, market_data=t.get_market_data,
        instruments=reg, policy=policy, checkpoint=hook,  # type: ignore[arg-type]
    )  # fmt: skip
    assert report.tickets and all(tk.state in TERMINAL for tk in report.tickets)
    # the transport waits out a reconnect: no order is given up as FAILED
    assert [tk.client_order_id for tk in report.tickets if tk.state == OrderState.FAILED] == []
    assert [o for o in gw.open_orders() if o.order_ref.startswith(f"{rid}:")] == []
    assert t.get_open_orders() == []
    ours = t.get_executions(f"{rid}:")
    theirs = [e for e in gw.executions() if e.order_ref.startswith(f"{rid}:")]
    assert sorted((f.exec_id, f.client_order_id, f.quantity, f.price) for f in ours) == sorted(
        (e.exec_id, e.order_ref, e.shares, e.price) for e in theirs
    )
    perms: dict[str, set[int]] = defaultdict(set)
    for e in theirs:
        perms[e.order_ref].add(e.perm_id)
    assert all(len(p) == 1 for p in perms.values())  # one IB order per client order id
    assert len({tk.client_order_id for tk in report.tickets}) == len(report.tickets)
    net: dict[str, int] = defaultdict(int)
    for f in ours:
        net[f.symbol] += f.side.sign * f.quantity
    assert {s: q for s, q in net.items() if q} == gw.positions() == t.get_positions()
    filled = {r.symbol: r.filled_quantity for r in report.results}
    for s, _side, q in INTENTS:
        assert 0 < filled[s] <= q


def test_supervise_through_ib(
    transport: IBKRTransport, gateway: GatewayHandle, exec_config: ExecutionConfig,
    instruments: InstrumentRegistry, ib_errors: IbLogGuard,
) -> None:  # fmt: skip
    ib_errors.allow(202)
    run(transport, gateway, exec_config, instruments, "sup1")


def test_supervise_survives_a_socket_drop_after_submission(
    transport: IBKRTransport, gateway: GatewayHandle, exec_config: ExecutionConfig,
    instruments: InstrumentRegistry, ib_errors: IbLogGuard,
) -> None:  # fmt: skip
    ib_errors.allow(202)
    ib_errors.forgive("Peer closed connection")

    def hook(name: str) -> None:
        if name == "after_submit":
            gateway.faults.drop_connections()

    run(transport, gateway, exec_config, instruments, "sup2", hook)
    assert transport.reconnects >= 1


@pytest.mark.parametrize("restore", [1102, 1101])
def test_supervise_survives_1100_then_restore(
    transport: IBKRTransport, gateway: GatewayHandle, exec_config: ExecutionConfig,
    instruments: InstrumentRegistry, ib_errors: IbLogGuard, restore: int,
) -> None:  # fmt: skip
    ib_errors.allow(202, 1100, restore)
    lost = threading.Event()

    def restorer() -> None:
        lost.wait(60)
        # restore once the transport has noticed (it then holds every send)
        for _ in range(600):
            if not transport.connected:
                break
            threading.Event().wait(0.01)
        threading.Event().wait(1.0)
        gateway.faults.connectivity_restored(code=restore)

    th = threading.Thread(target=restorer, daemon=True)
    th.start()

    def hook(name: str) -> None:
        if name == "after_submit":
            gateway.faults.connectivity_lost()
            lost.set()

    run(transport, gateway, exec_config, instruments, f"sup3-{restore}", hook)
    th.join(10)
    assert transport.reconnects == 0 and transport.connected
