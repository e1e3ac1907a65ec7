"""Concurrent writers and real process crashes (both backends).

Threads race through the repository's upserts; the database decides the
winner (ON CONFLICT DO NOTHING + row locks), so exactly one insert wins and
the order's fill totals equal the sum of its fills. A child process killed
with ``os._exit`` mid-transaction leaves nothing of that step behind.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, text

from lib.clock import VirtualClock
from lib.store import LedgerRepository, make_engine, make_session_factory
from lib.types import Side
from tests.lib.store.helpers import REB, fill, later, write_order

T = TypeVar("T")
THREADS = 8
REPO_ROOT = Path(__file__).resolve().parents[3]


def race(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in n threads released together; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def test_concurrent_create_or_get_rebalance_creates_once(repo: LedgerRepository) -> None:
    outcomes = race(THREADS, lambda i: repo.create_or_get_rebalance(REB, portfolio=f"p{i}")[1])
    assert sorted(outcomes) == [False] * (THREADS - 1) + [True]


def test_concurrent_write_ahead_of_one_order_creates_once(repo: LedgerRepository) -> None:
    repo.create_or_get_rebalance(REB)

    def work(_: int) -> bool:
        return repo.record_order(
            "coid-1",
            rebalance_id=REB,
            intent_id="i",
            symbol="SPY",
            side=Side.BUY,
            quantity=100,
            order_type="LMT",
            limit_price=450.0,
        )[1]

    assert sorted(race(THREADS, work)) == [False] * (THREADS - 1) + [True]
    assert len(repo.orders_for_rebalance(REB)) == 1


def test_concurrent_duplicate_fill_counts_once(repo: LedgerRepository, clock: VirtualClock) -> None:
    repo.create_or_get_rebalance(REB)
    write_order(repo, "coid-1")
    f = fill("E1", "coid-1", 100, 450.0, clock.now())
    assert sorted(race(THREADS, lambda _: repo.record_fill(f))) == [False] * (THREADS - 1) + [True]
    order = repo.get_order("coid-1")
    assert order is not None and order.filled_quantity == 100


def test_concurrent_distinct_fills_sum_exactly(repo: LedgerRepository, clock: VirtualClock) -> None:
    repo.create_or_get_rebalance(REB)
    write_order(repo, "coid-1")
    t = clock.now()
    # fill i: (i + 1) * 5 shares at 450.00 + i cents -> 180 shares in all
    outcomes = race(
        THREADS,
        lambda i: repo.record_fill(
            fill(f"E{i}", "coid-1", (i + 1) * 5, 450.0 + i / 100, later(t, i))
        ),
    )
    assert outcomes == [True] * THREADS
    order = repo.get_order("coid-1")
    assert order is not None
    assert order.filled_quantity == sum((i + 1) * 5 for i in range(THREADS)) == 180
    expected_avg = sum((i + 1) * 5 * (450.0 + i / 100) for i in range(THREADS)) / 180
    assert order.avg_fill_price == pytest.approx(expected_avg)


CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import UTC, datetime
    from lib.store import LedgerRepository, make_engine, make_session_factory
    from lib.store.models import FillRow, Order
    from lib.types import Side

    url, schema = sys.argv[1], (sys.argv[2] or None)
    engine = make_engine(url, schema=schema)
    repo = LedgerRepository(make_session_factory(engine))
    now = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    repo.create_or_get_rebalance("R")
    # step 1, committed: the write-ahead order
    repo.record_order("R:i:0:0", rebalance_id="R", intent_id="i", symbol="SPY",
                      side=Side.BUY, quantity=100, order_type="LMT", limit_price=450.0)
    # step 2, killed before its commit: a fill and the order totals
    with repo._sessions.begin() as s:
        s.add(FillRow(exec_id="E1", client_order_id="R:i:0:0", rebalance_id="R",
                      symbol="SPY", side="BUY", quantity=40, price=450.0, commission=0.0,
                      liquidity="", ts=now, recorded_at=now))
        s.query(Order).update({Order.filled_quantity: 40, Order.status: "PARTIALLY_FILLED"})
        s.flush()
        sys.stdout.write("flushed\\n"); sys.stdout.flush()
        os._exit(9)  # the process dies: no commit, no rollback, no cleanup
    """
)


def test_process_killed_mid_step_leaves_only_committed_steps(
    engine: Engine, clock: VirtualClock
) -> None:
    schema = ""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = str(conn.execute(text("select current_schema()")).scalar())
    url = engine.url.render_as_string(hide_password=False)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, url, schema],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 9, proc.stderr
    assert proc.stdout.strip() == "flushed"

    fresh = make_engine(url, schema=schema or None)
    try:
        repo = LedgerRepository(make_session_factory(fresh), clock)
        order = repo.get_order("R:i:0:0")
        assert order is not None  # the write-ahead row survived the crash
        assert (order.status, order.filled_quantity) == ("PENDING_SUBMIT", 0)
        assert repo.fills_for_rebalance("R") == []
        # the rerun sees the order as open and must reconcile it with the broker
        assert [o.client_order_id for o in repo.open_orders_for_rebalance("R")] == ["R:i:0:0"]
        # and the ledger still takes the fill once reconciliation reports it
        assert repo.record_fill(fill("E1", "R:i:0:0", 40, 450.0, clock.now()))
    finally:
        fresh.dispose()
