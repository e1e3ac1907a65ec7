from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.brokers.base import BrokerOrderStatus
from lib.errors import InvalidStateTransition
from lib.orders.states import (
    CANCELLABLE,
    LIVE,
    REPLACEABLE,
    TERMINAL,
    TRANSITIONS,
    CancelReason,
    OrderState,
    can_transition,
    state_from_broker,
    transition,
)

S = OrderState
ALL_PAIRS = list(itertools.product(OrderState, OrderState))


def test_order_state_is_a_str_for_the_ticket() -> None:
    assert isinstance(S.FILLED, str)
    assert S.PARTIALLY_FILLED == "PARTIALLY_FILLED"
    assert S("EXPIRED") is S.EXPIRED


def test_table_has_a_row_for_every_state() -> None:
    assert set(TRANSITIONS) == set(OrderState)
    for targets in TRANSITIONS.values():
        assert targets <= set(OrderState)


def test_named_sets() -> None:
    assert TERMINAL == {S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED, S.FAILED}
    assert LIVE == set(OrderState) - TERMINAL
    assert CANCELLABLE == {S.PENDING_SUBMIT, S.SUBMITTED, S.PARTIALLY_FILLED, S.PENDING_REPLACE}
    assert REPLACEABLE == {S.SUBMITTED, S.PARTIALLY_FILLED}


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_every_pair_of_states(current: OrderState, target: OrderState) -> None:
    if target in TRANSITIONS[current]:
        assert can_transition(current, target)
        assert transition("O1", current, target) is target
    else:
        assert not can_transition(current, target)
        with pytest.raises(InvalidStateTransition) as info:
            transition("O1", current, target)
        assert info.value.order_id == "O1"
        assert f"{current} -> {target}" in str(info.value)


def test_allowed_pair_count_is_pinned() -> None:
    # 7 + 7 + 5 + 7 + 6 rows: a change to the table must change this test too.
    assert sum(len(v) for v in TRANSITIONS.values()) == 32
    assert not any(can_transition(s, s) for s in OrderState)  # no self loops


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_terminal_states_have_no_exits(state: OrderState) -> None:
    assert TRANSITIONS[state] == frozenset()
    for target in OrderState:
        with pytest.raises(InvalidStateTransition):
            transition("O1", state, target)


def _reachable(start: OrderState) -> set[OrderState]:
    seen, stack = {start}, [start]
    while stack:
        for nxt in TRANSITIONS[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_every_state_is_reachable_and_every_live_state_can_finish() -> None:
    assert _reachable(S.PENDING_SUBMIT) == set(OrderState)
    for state in LIVE:
        assert _reachable(state) & TERMINAL
    # EXPIRED only via our own TTL cancel
    assert [s for s in OrderState if S.EXPIRED in TRANSITIONS[s]] == [S.PENDING_CANCEL]


@given(st.lists(st.sampled_from(list(OrderState)), max_size=40))
def test_random_attempts_stay_on_the_table(attempts: list[OrderState]) -> None:
    state = S.PENDING_SUBMIT
    path = [state]
    for target in attempts:
        try:
            state = transition("O1", state, target)
        except InvalidStateTransition:
            assert target not in TRANSITIONS[path[-1]]
            continue
        path.append(state)
    for a, b in itertools.pairwise(path):
        assert b in TRANSITIONS[a]
    for terminal_at, s in enumerate(path):
        if s in TERMINAL:
            assert terminal_at == len(path) - 1  # nothing after a terminal state


CONTEXTS = list(
    itertools.product(
        BrokerOrderStatus,
        sorted(LIVE),
        (0, 40, 100),
        (None, CancelReason.USER, CancelReason.EXPIRE),
        (False, True),
    )
)


@pytest.mark.parametrize(("status", "current", "filled", "reason", "replace_pending"), CONTEXTS)
def test_broker_mapping_never_leaves_the_table(
    status: BrokerOrderStatus,
    current: OrderState,
    filled: int,
    reason: CancelReason | None,
    replace_pending: bool,
) -> None:
    result = state_from_broker(
        status,
        current,
        filled_quantity=filled,
        quantity=100,
        cancel_reason=reason,
        replace_pending=replace_pending,
    )
    assert result is current or can_transition(current, result)
    if filled == 100:
        assert result is S.FILLED


def _map(
    status: BrokerOrderStatus, current: OrderState, filled: int = 0, **kw: object
) -> OrderState:
    return state_from_broker(status, current, filled_quantity=filled, quantity=100, **kw)  # type: ignore[arg-type]


def test_broker_mapping_uses_context() -> None:
    B = BrokerOrderStatus
    assert _map(B.CANCELLED, S.PENDING_CANCEL, 30, cancel_reason=CancelReason.EXPIRE) is S.EXPIRED
    assert _map(B.CANCELLED, S.PENDING_CANCEL, 30, cancel_reason=CancelReason.USER) is S.CANCELLED
    assert _map(B.CANCELLED, S.SUBMITTED) is S.CANCELLED  # unsolicited cancel
    assert (
        _map(B.SUBMITTED, S.PENDING_CANCEL, cancel_reason=CancelReason.EXPIRE) is S.PENDING_CANCEL
    )
    assert _map(B.PARTIALLY_FILLED, S.PENDING_CANCEL, 20) is S.PENDING_CANCEL
    assert _map(B.FILLED, S.PENDING_CANCEL, 100) is S.FILLED  # too late to cancel
    assert _map(B.INACTIVE, S.PENDING_SUBMIT) is S.REJECTED
    assert _map(B.REJECTED, S.PARTIALLY_FILLED, 40) is S.CANCELLED  # fills stand
    assert _map(B.SUBMITTED, S.PENDING_REPLACE, replace_pending=True) is S.PENDING_REPLACE
    assert _map(B.SUBMITTED, S.PENDING_REPLACE) is S.SUBMITTED
    assert _map(B.PARTIALLY_FILLED, S.PENDING_REPLACE, 10) is S.PARTIALLY_FILLED
    assert _map(B.PENDING_SUBMIT, S.PENDING_SUBMIT) is S.PENDING_SUBMIT
    assert _map(B.PENDING_SUBMIT, S.SUBMITTED) is S.SUBMITTED  # never back to pending
    assert _map(B.SUBMITTED, S.PENDING_SUBMIT, 40) is S.PARTIALLY_FILLED
    for terminal in TERMINAL:
        assert _map(B.SUBMITTED, terminal) is terminal
