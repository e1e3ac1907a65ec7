"""lib.story: the journal wrapper tells each order event and forwards every
call unchanged; a std logger is all it needs (no Prefect)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.states import OrderState
from lib.risk import RiskBlock
from lib.story import StoryJournal, tell_blocks, tell_rejected
from lib.types import Fill, Side

T = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
CID = "r1:SPY:s0:a0"


class Recorder:
    def __init__(self) -> None:
        self.orders: list[str] = []
        self.events: list[OrderEvent] = []
        self.fills: list[Fill] = []

    def record_order(self, client_order_id: str, **kwargs: Any) -> object:
        self.orders.append(client_order_id)
        return "row"

    def record_order_events(self, events: Iterable[OrderEvent]) -> int:
        batch = list(events)
        self.events += batch
        return len(batch)

    def record_fill(self, fill: Fill) -> bool:
        self.fills.append(fill)
        return True


def _ev(kind: OrderEventKind, state: OrderState | None = OrderState.SUBMITTED, **kw: Any) -> OrderEvent:
    return OrderEvent(T, CID, kind, state, **kw)


def test_every_order_event_is_told_and_forwarded(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.story")
    inner = Recorder()
    j = StoryJournal(inner, log)
    assert j.record_order(CID, rebalance_id="r1", intent_id="SPY", symbol="SPY", side=Side.BUY,
                          quantity=100, order_type="LMT", limit_price=500.0) == "row"
    events = [
        _ev(OrderEventKind.SUBMIT_SENT, OrderState.PENDING_SUBMIT, price=500.0, quantity=100),
        _ev(OrderEventKind.MODIFY_SENT, OrderState.PENDING_REPLACE, price=500.05, detail="ladder 1"),
        _ev(OrderEventKind.FILL, OrderState.PARTIALLY_FILLED, price=500.05, quantity=40),
        _ev(OrderEventKind.BROKER_ERROR, detail="replace refused: 10147"),
        _ev(OrderEventKind.STATE_CHANGED, OrderState.REJECTED, previous=OrderState.SUBMITTED,
            detail="201 margin"),
        _ev(OrderEventKind.STATE_CHANGED, OrderState.FILLED, previous=OrderState.SUBMITTED),
    ]
    with caplog.at_level(logging.INFO, logger="test.story"):
        assert j.record_order_events(iter(events)) == len(events)
    assert inner.orders == [CID] and inner.events == events
    told = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert told == [
        (logging.INFO, f"sent {CID}: BUY 100 SPY LMT limit 500"),
        (logging.INFO, f"replace {CID}: limit -> 500.05 (ladder 1)"),
        (logging.INFO, f"fill {CID}: 40 @ 500.05 (BUY 100 SPY LMT)"),
        (logging.WARNING, f"broker error on {CID} (replace refused: 10147)"),
        (logging.WARNING, f"REJECTED {CID}: BUY 100 SPY LMT (201 margin)"),
    ]  # FILLED itself is not repeated: the fill lines say it


def test_blocks_and_rejections_are_warnings(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.story")
    blocks = [RiskBlock("kill_switch", "SPY", "SPY", "engaged")]
    with caplog.at_level(logging.INFO, logger="test.story"):
        tell_blocks(log, blocks)
        tell_rejected(log, {"SPY": "blocked", "TLT": "stale quote"}, blocks)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "blocked SPY (kill_switch, pre-trade): engaged"),
        (logging.WARNING, "no plan for TLT: stale quote"),
    ]
