"""Alert delivery in the pipeline (lib/pipeline/report.py send_alerts) and the
run outcome it feeds: a refused alert is retried on the runtime's clock, what
still fails is logged at ERROR and named in the outcome; trades never fail."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from lib.analytics import summarize_day
from lib.clock import VirtualClock
from lib.notify import Notifier
from lib.pipeline import RunSummary, send_alerts, undelivered_alerts
from lib.pipeline.outcome import ALERTS_UNDELIVERED, COMPLETED, PARTIAL, run_outcome
from lib.pipeline.report import ALERT_RETRY_SECONDS
from tests.helpers import CaptureServer

START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _run() -> RunSummary:
    s = summarize_day(date(2026, 11, 24), [], netting_saved_qty=0, netting_saved_notional=0.0)
    s = dataclasses.replace(s, orders=2, orders_full=2, fills=2)
    return RunSummary("r1", s, "text", ())


def _rt(clock: VirtualClock) -> Any:
    # send_alerts reads only the id and the clock of the Runtime.
    return SimpleNamespace(rebalance_id="r1", clock=clock)


def test_refused_alert_is_retried_then_logged_at_error(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock(START)
    with CaptureServer(status=500) as srv, caplog.at_level(logging.ERROR, "lib.pipeline.report"):
        out = send_alerts(_rt(clock), _run(), [], Notifier([srv.url()]))
        assert len(srv.requests) == 1 + len(ALERT_RETRY_SECONDS)
    assert [r.sent for r in out] == [False] and undelivered_alerts(out) == 1
    assert (clock.now() - START).total_seconds() == sum(ALERT_RETRY_SECONDS)
    assert any("NOT DELIVERED" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_alert_delivered_on_retry_counts_as_delivered() -> None:
    clock = VirtualClock(START)
    with CaptureServer(status=500) as srv:
        clock.subscribe(lambda _s, _e: setattr(srv, "status", 200))  # endpoint back after a wait
        out = send_alerts(_rt(clock), _run(), [], Notifier([srv.url()]))
        assert len(srv.requests) == 2
    assert [r.sent for r in out] == [True] and undelivered_alerts(out) == 0


def test_healthy_destination_is_not_sent_the_retry() -> None:
    clock = VirtualClock(START)
    with CaptureServer(status=500) as bad, CaptureServer() as good:
        out = send_alerts(_rt(clock), _run(), [], Notifier([bad.url(), good.url()]))
        assert len(good.requests) == 1 and len(bad.requests) == 1 + len(ALERT_RETRY_SECONDS)
    assert len(out[0].failed) == 1 and len(out[0].destinations) == 2


def test_no_destination_is_not_an_undelivered_alert() -> None:
    clock = VirtualClock(START)
    out = send_alerts(_rt(clock), _run(), [], Notifier([]))
    assert undelivered_alerts(out) == 0 and clock.now() == START


def test_outcome_names_undelivered_alerts_and_never_fails_the_run() -> None:
    done = run_outcome(intents=2, plans=2, blocks=[], results=None)
    assert done.name == COMPLETED
    o = run_outcome(intents=2, plans=2, blocks=[], results=None, undelivered=1)
    assert o.name == ALERTS_UNDELIVERED and not o.failed
    assert o.message == "2 order(s) completed; 1 alert(s) NOT DELIVERED (see the log)"
    p = run_outcome(intents=2, plans=1, blocks=[], rejected=1, undelivered=2)
    assert p.name == PARTIAL and "2 alert(s) NOT DELIVERED" in p.message
