"""Execution dedupe, corrections and commission reports (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from lib.brokers.ibkr_fills import ExecutionBook, ExecutionReport, exec_base
from lib.types import Side

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def rep(exec_id: str, shares: int = 100, price: float = 10.0, ref: str = "rb:A:s0:a0", dt: int = 0) -> ExecutionReport:
    return ExecutionReport(exec_id, 555, 7, ref, "SPY", Side.BUY, shares, price, T0 + timedelta(seconds=dt))


def test_exec_base() -> None:
    assert exec_base("0000e0d5.65a1b2c3.01.01") == ("0000e0d5.65a1b2c3.01", 1)
    assert exec_base("0000e0d5.65a1b2c3.01.02") == ("0000e0d5.65a1b2c3.01", 2)
    assert exec_base("plain") == ("plain", 0)


def test_duplicates_count_once() -> None:
    b = ExecutionBook()
    assert b.add_execution(rep("x.01"))
    assert not b.add_execution(rep("x.01"))
    assert [f.quantity for f in b.fills()] == [100]


def test_correction_replaces_and_keeps_the_original_key() -> None:
    b = ExecutionBook()
    b.add_execution(rep("x.01", 100, 10.0))
    assert b.add_execution(rep("x.02", 80, 10.5))
    assert not b.add_execution(rep("x.01", 100, 10.0))  # a late original changes nothing
    (f,) = b.fills()
    assert (f.exec_id, f.quantity, f.price) == ("x.01", 80, 10.5)
    assert b.filled_by_ref() == {"rb:A:s0:a0": (80, 10.5)}


def test_commission_twice_zero_first_and_before_the_execution() -> None:
    b = ExecutionBook()
    b.add_commission("y.01", 0.0)  # zero first, before its execution
    b.add_execution(rep("y.01"))
    assert b.unsettled() == ["y.01"]
    b.add_commission("y.01", 1.25)
    b.add_commission("y.01", 1.25)  # twice: the latest wins, never added
    assert b.unsettled() == []
    assert b.fills()[0].commission == 1.25
    b.add_commission("y.01", float("nan"))
    assert b.fills()[0].commission == 0.0


def test_prefix_and_missing_refs() -> None:
    b = ExecutionBook()
    b.add_execution(rep("a.01", ref="rb:A:s0:a0"))
    b.add_execution(rep("b.01", ref="other:B:s0:a0", dt=1))
    b.add_execution(rep("c.01", ref="", dt=2))
    b.with_ref({7: "rb:C:s0:a0"})
    assert [f.exec_id for f in b.fills("rb:")] == ["a.01", "c.01"]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 3), st.integers(1, 500)), max_size=40))
def test_any_replay_order_gives_one_fill_per_execution_at_its_latest_revision(events: list[tuple[int, int, int]]) -> None:
    b = ExecutionBook()
    latest: dict[int, tuple[int, int]] = {}
    for n, revision, shares in events:
        b.add_execution(rep(f"e{n}.{revision:02d}", shares))
        if n not in latest or revision > latest[n][0]:
            latest[n] = (revision, shares)
    got = {exec_base(f.exec_id)[0]: f.quantity for f in b.fills()}
    assert got == {f"e{n}": s for n, (_, s) in latest.items()}
