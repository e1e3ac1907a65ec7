"""Fault injection for the simulated IB Gateway (thread-safe entry points).

* ``drop_connections()``: abort every client socket now (orders stay working).
* ``connectivity_lost()``: error 1100 to every client; from then on live order,
  execution and market-data messages are held (requests are still answered).
* ``connectivity_restored(code)``: 1102 (data maintained: held messages are
  delivered) or 1101 (data lost: held live messages are dropped and market
  data subscriptions must be renewed).
* ``delay_acks(seconds)``: openOrder/orderStatus go out ``seconds`` virtual
  seconds late.
* ``reject_next(code, message, count)``: the next ``count`` new orders are
  refused with that IB error code.
* ``commissions(mode)``: ``normal`` (right after the execution), ``duplicate``
  (twice), ``zero_first`` (a zero report, then the real one), ``delayed``
  (``commission_delay_s`` virtual seconds after the execution).
* ``datafarm_notices()``: 2104/2106/2158 to every client.
* ``drop_on_next(kind)``: the next ``place`` / ``modify`` / ``cancel`` reaches
  the gateway (and acts), then every socket is aborted before any answer.
* ``no_market_data(symbol)``: market data requests for it get error 354.
* ``correct_execution(exec_id, price)``: IB's execution correction: the same
  execution re-sent with the execId suffix ``.02`` (``.03`` ...) at ``price``;
  it replaces the original in the gateway's record (the simulator's cash is
  not re-booked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lib.sim.tws.server import GatewayServer

__all__ = ["COMMISSION_MODES", "DATAFARM_NOTICES", "FaultState", "GatewayFaults"]

COMMISSION_MODES = ("normal", "duplicate", "zero_first", "delayed")
DATAFARM_NOTICES: tuple[tuple[int, str], ...] = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefil"),
)


@dataclass
class FaultState:
    """What the server consults (mutated on the gateway's loop only)."""

    lost: bool = False
    ack_delay_s: float = 0.0
    rejects: list[tuple[int, str]] = field(default_factory=list)
    commission_mode: str = "normal"
    commission_delay_s: float = 5.0
    drop_on: set[str] = field(default_factory=set)  # "place" / "modify" / "cancel"
    no_data: set[str] = field(default_factory=set)


class GatewayFaults:
    """Switches callable from any thread; each runs on the gateway's loop."""

    def __init__(self, server: GatewayServer, call: Callable[[Callable[[], Any]], Any]) -> None:
        self._server = server
        self._call = call

    def drop_connections(self) -> None:
        self._call(self._server.drop_all)

    def connectivity_lost(self) -> None:
        self._call(self._server.connectivity_lost)

    def connectivity_restored(self, code: int = 1102) -> None:
        if code not in (1101, 1102):
            raise ValueError(f"connectivity is restored with 1101 or 1102, not {code}")
        self._call(lambda: self._server.connectivity_restored(code))

    def delay_acks(self, seconds: float = 2.0) -> None:
        if seconds < 0:
            raise ValueError("delay must be >= 0 seconds")
        self._call(lambda: setattr(self._server.faults, "ack_delay_s", float(seconds)))

    def reject_next(self, code: int = 201, message: str = "Order rejected - reason:simulated", count: int = 1) -> None:
        self._call(lambda: self._server.faults.rejects.extend([(code, message)] * count))

    def commissions(self, mode: str = "normal", delay_s: float = 5.0) -> None:
        if mode not in COMMISSION_MODES:
            raise ValueError(f"commission mode {mode!r} not one of {COMMISSION_MODES}")

        def apply() -> None:
            self._server.faults.commission_mode = mode
            self._server.faults.commission_delay_s = delay_s

        self._call(apply)

    def datafarm_notices(self) -> None:
        self._call(self._server.broadcast_datafarm)

    def drop_on_next(self, kind: str = "place") -> None:
        if kind not in ("place", "modify", "cancel"):
            raise ValueError(f"drop_on_next takes place, modify or cancel, not {kind!r}")
        self._call(lambda: self._server.faults.drop_on.add(kind))

    def correct_execution(self, exec_id: str, price: float) -> str:
        """Returns the correction's execId."""
        result: str = self._call(lambda: self._server.correct_execution(exec_id, price))
        return result

    def no_market_data(self, symbol: str, on: bool = True) -> None:
        def apply() -> None:
            if on:
                self._server.faults.no_data.add(symbol)
            else:
                self._server.faults.no_data.discard(symbol)

        self._call(apply)
